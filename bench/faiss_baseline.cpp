/*
 * FAISS baseline for bench/bench_search.c: an IndexFlatIP (exact
 * inner-product search over float32, FAISS's own brute force) behind a
 * C interface. Debian 12's libfaiss.a (1.7.3) has no C API symbols
 * (faiss_IndexFlatIP_new is absent), so this small C++ unit is the bridge.
 */
#include <faiss/IndexFlat.h>
#include <omp.h>

#include <cstdint>
#include <new>

extern "C" {

void *tvs_bench_faiss_new(int d, long n, const float *x)
{
	try {
		faiss::IndexFlatIP *ix = new faiss::IndexFlatIP(d);
		ix->add(n, x);
		return ix;
	} catch (...) {
		return nullptr;
	}
}

/* nq probes, k hits each: D[nq*k] scores, I[nq*k] row numbers. */
int tvs_bench_faiss_search(void *ix, long nq, const float *q, int k, float *D, int64_t *I)
{
	try {
		static_cast<faiss::IndexFlatIP *>(ix)->search(nq, q, k, D, I);
		return 0;
	} catch (...) {
		return -1;
	}
}

void tvs_bench_faiss_free(void *ix)
{
	delete static_cast<faiss::IndexFlatIP *>(ix);
}

void tvs_bench_faiss_threads(int n)
{
	omp_set_num_threads(n);
}

}
