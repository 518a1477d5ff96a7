/*
 * DET plot for 1:N evaluation: FNIR against FPIR on log-log axes, drawn
 * with cairo into a PNG.
 *
 * NIST IR 8381 and the FRVT 1:N reports plot FNIR (y) against FPIR (x),
 * both logarithmic, so the low-FPIR end that border control cares about
 * gets as much room as the rest. The x axis spans whole decades from
 * fpir_min (1 / non-mated searches: the lowest nonzero FPIR measurable) to
 * 1; the y axis spans whole decades from just under the lowest nonzero FNIR
 * drawn (floor 1e-4) to 1. The operating points are joined by straight
 * segments in log space, as NIST's plots do. Marks (the FPIR targets) are
 * red rings with their label. Only cairo's toy text API is used: no font
 * files beyond what fontconfig finds, and the plot stays legible if the
 * font falls back.
 */
#include "tvs/error.h"
#include "tvs/ident_eval.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>

#define W 960
#define H 720
#define ML 100.0 /* margins: left, right, top, bottom */
#define MR 40.0
#define MT 70.0
#define MB 80.0
#define FNIR_FLOOR 1e-4

typedef struct axes {
	double x0, x1, y0, y1; /* log10 ranges */
} axes;

static double px(const axes *a, double fpir)
{
	return ML + (log10(fpir) - a->x0) / (a->x1 - a->x0) * (W - ML - MR);
}

static double py(const axes *a, double fnir)
{
	double l = fnir > 0 ? log10(fnir) : a->y0;

	if (l < a->y0)
		l = a->y0;
	return H - MB - (l - a->y0) / (a->y1 - a->y0) * (H - MT - MB);
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double ax, double ay)
{
	cairo_text_extents_t e;

	cairo_text_extents(cr, s, &e);
	cairo_move_to(cr, x - e.width * ax - e.x_bearing, y - e.height * ay - e.y_bearing);
	cairo_show_text(cr, s);
}

static void decade_label(char *buf, size_t cap, int e)
{
	if (e >= -4)
		snprintf(buf, cap, "%.*f", e < 0 ? -e : 0, pow(10, e));
	else
		snprintf(buf, cap, "1e%d", e);
}

static void draw_grid(cairo_t *cr, const axes *a)
{
	char buf[32];

	cairo_set_line_width(cr, 1);
	for (int e = (int)a->x0; e <= (int)a->x1; e++) {
		for (int m = 1; m <= 9 && (m == 1 || e < (int)a->x1); m++) {
			double x = px(a, m * pow(10, e));

			cairo_set_source_rgb(cr, m == 1 ? 0.75 : 0.9, m == 1 ? 0.75 : 0.9, m == 1 ? 0.75 : 0.9);
			cairo_move_to(cr, x, MT);
			cairo_line_to(cr, x, H - MB);
			cairo_stroke(cr);
		}
		decade_label(buf, sizeof(buf), e);
		cairo_set_source_rgb(cr, 0, 0, 0);
		text_at(cr, px(a, pow(10, e)), H - MB + 8, buf, 0.5, 0);
	}
	for (int e = (int)a->y0; e <= (int)a->y1; e++) {
		for (int m = 1; m <= 9 && (m == 1 || e < (int)a->y1); m++) {
			double y = py(a, m * pow(10, e));

			cairo_set_source_rgb(cr, m == 1 ? 0.75 : 0.9, m == 1 ? 0.75 : 0.9, m == 1 ? 0.75 : 0.9);
			cairo_move_to(cr, ML, y);
			cairo_line_to(cr, W - MR, y);
			cairo_stroke(cr);
		}
		decade_label(buf, sizeof(buf), e);
		cairo_set_source_rgb(cr, 0, 0, 0);
		text_at(cr, ML - 8, py(a, pow(10, e)), buf, 1, 0.5);
	}
	cairo_rectangle(cr, ML, MT, W - ML - MR, H - MT - MB);
	cairo_stroke(cr);
}

int tvs_ident_plot_det_png(const char *path, const tvs_ident_det_point *pts, size_t n, double fpir_min,
			   const tvs_ident_plot_mark *marks, size_t nmarks, const char *title)
{
	cairo_surface_t *sf;
	cairo_t *cr;
	cairo_status_t st;
	double lo = 1;
	axes a;
	int started = 0, rc = 0;

	if (!path || !pts || n < 1 || (nmarks && !marks) || !(fpir_min > 0 && fpir_min < 1))
		return tvs__err(TVS_EINVAL, "det_plot: need a path, points and 0 < fpir_min < 1");
	for (size_t i = 0; i < n; i++) {
		if (pts[i].fpir >= fpir_min && pts[i].fnir > 0 && pts[i].fnir < lo)
			lo = pts[i].fnir;
	}
	if (lo < FNIR_FLOOR)
		lo = FNIR_FLOOR;
	a.x0 = floor(log10(fpir_min) + 1e-9);
	a.x1 = 0;
	a.y0 = floor(log10(lo) - 1e-9);
	if (a.y0 > -1)
		a.y0 = -1;
	a.y1 = 0;

	sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
	cr = cairo_create(sf);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, 14);
	draw_grid(cr, &a);

	/* Axis labels and title. */
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_set_font_size(cr, 16);
	text_at(cr, ML + (W - ML - MR) / 2, H - 28, "FPIR (false positive identification rate)", 0.5, 0.5);
	cairo_save(cr);
	cairo_translate(cr, 28, MT + (H - MT - MB) / 2);
	cairo_rotate(cr, -M_PI / 2);
	text_at(cr, 0, 0, "FNIR (false negative identification rate)", 0.5, 0.5);
	cairo_restore(cr);
	if (title) {
		cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
		cairo_set_font_size(cr, 17);
		text_at(cr, W / 2.0, MT / 2, title, 0.5, 0.5);
		cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	}

	/* The curve, clipped to the plot area. */
	cairo_save(cr);
	cairo_rectangle(cr, ML, MT, W - ML - MR, H - MT - MB);
	cairo_clip(cr);
	cairo_set_source_rgb(cr, 0.1, 0.3, 0.8);
	cairo_set_line_width(cr, 2.2);
	cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
	for (size_t i = 0; i < n; i++) {
		if (!(pts[i].fpir >= fpir_min) || !isfinite(pts[i].fnir))
			continue;
		if (started)
			cairo_line_to(cr, px(&a, pts[i].fpir), py(&a, pts[i].fnir));
		else
			cairo_move_to(cr, px(&a, pts[i].fpir), py(&a, pts[i].fnir));
		started = 1;
	}
	cairo_stroke(cr);
	cairo_restore(cr);

	/* Operating points: a ring and a dashed drop line each, and their
	 * labels in a legend in the lower left, which a DET curve leaves empty. */
	cairo_set_font_size(cr, 14);
	size_t shown = 0;
	double lw = 0;

	for (size_t i = 0; i < nmarks; i++) {
		cairo_text_extents_t e;
		double x, y;

		if (!(marks[i].fpir >= fpir_min && marks[i].fpir <= 1) || !isfinite(marks[i].fnir))
			continue;
		x = px(&a, marks[i].fpir);
		y = py(&a, marks[i].fnir);
		cairo_set_source_rgb(cr, 0.85, 0.1, 0.1);
		cairo_set_line_width(cr, 2);
		cairo_new_sub_path(cr);
		cairo_arc(cr, x, y, 6, 0, 2 * M_PI);
		cairo_stroke(cr);
		cairo_set_line_width(cr, 1);
		cairo_set_dash(cr, (const double[]){4, 4}, 2, 0);
		cairo_move_to(cr, x, H - MB);
		cairo_line_to(cr, x, y + 6);
		cairo_stroke(cr);
		cairo_set_dash(cr, NULL, 0, 0);
		if (marks[i].label) {
			cairo_text_extents(cr, marks[i].label, &e);
			lw = fmax(lw, e.x_advance);
			shown++;
		}
	}
	if (shown) {
		double bx = ML + 14, bh = 22.0 * (double)shown + 10, by = H - MB - 14 - bh, ly = by + 16;

		cairo_rectangle(cr, bx, by, lw + 40, bh);
		cairo_set_source_rgb(cr, 1, 1, 1);
		cairo_fill_preserve(cr);
		cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
		cairo_set_line_width(cr, 1);
		cairo_stroke(cr);
		for (size_t i = 0; i < nmarks; i++) {
			if (!marks[i].label || !(marks[i].fpir >= fpir_min && marks[i].fpir <= 1) ||
			    !isfinite(marks[i].fnir))
				continue;
			cairo_set_source_rgb(cr, 0.85, 0.1, 0.1);
			cairo_set_line_width(cr, 2);
			cairo_new_sub_path(cr);
			cairo_arc(cr, bx + 16, ly, 6, 0, 2 * M_PI);
			cairo_stroke(cr);
			cairo_set_source_rgb(cr, 0, 0, 0);
			text_at(cr, bx + 30, ly, marks[i].label, 0, 0.5);
			ly += 22;
		}
	}

	st = cairo_status(cr);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_write_to_png(sf, path);
	if (st != CAIRO_STATUS_SUCCESS)
		rc = tvs__err(st == CAIRO_STATUS_NO_MEMORY ? TVS_ENOMEM : TVS_EIO, "det_plot: %s: %s", path,
			      cairo_status_to_string(st));
	cairo_destroy(cr);
	cairo_surface_destroy(sf);
	return rc;
}
