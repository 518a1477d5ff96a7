/*
 * Loading a prepared layer from named TFJS weights. Shapes are checked
 * against what the network definition expects, so a tampered or mismatched
 * model fails at load with the weight's name instead of reading out of
 * bounds at inference.
 */
#include "face_int.h"
#include "tvs/error.h"

int tvs__load_conv(tvs_conv *L, const tvs_nn_model_t *m, const char *wname, const char *bname,
		   const char *scale_w, const char *scale_b, int kh, int kw, int cin, int cout, int stride,
		   int pad, int act, int impl)
{
	const float *w = NULL, *b = NULL, *sw = NULL, *sb = NULL;
	int wshape[4] = {kh, kw, cin, cout};
	int rc;

	rc = tvs_nn_model_get(m, wname, 4, wshape, &w);
	if (rc == 0 && bname)
		rc = tvs_nn_model_get(m, bname, 1, &cout, &b);
	if (rc == 0 && scale_w)
		rc = tvs_nn_model_get(m, scale_w, 1, &cout, &sw);
	if (rc == 0 && scale_b)
		rc = tvs_nn_model_get(m, scale_b, 1, &cout, &sb);
	if (rc < 0)
		return rc;
	return tvs_conv_init(L, kh, kw, cin, cout, stride, pad, act, w, b, sw, sb, impl);
}
