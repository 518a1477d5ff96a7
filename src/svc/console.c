/*
 * The officer console's static files: web/index.html at "/" and
 * web/console/<file> at "/console/<file>", public (the page signs in with
 * POST /v1/sessions and then sends its bearer token on every API call; a
 * static file holds no data).
 *
 * The files are compiled into the binary with .incbin, like the OpenAPI
 * document (report.c): tvs serve shows the console of its own build from
 * any working directory, and no request can name a path on disk. The
 * Makefile makes console.o depend on web/, so editing a page rebuilds it.
 *
 * The HTTP layer adds the security headers to these replies as to every
 * other: nosniff (hence the exact content types below), no-store, DENY and
 * the CSP default-src 'self'. The pages are shaped for that CSP: no inline
 * script or style, no eval, and images drawn onto canvases from fetched
 * bytes (createImageBitmap) rather than through blob: URLs, which 'self'
 * does not match.
 */
#include "svc_int.h"

#include <string.h>

/* sym[] .. sym_end[]: the bytes of file, in .rodata, hidden from other objects */
#define CONSOLE_EMBED(sym, file)                                                                   \
	__asm__(".section .rodata\n"                                                               \
		".global " #sym "\n.hidden " #sym "\n.type " #sym ", @object\n.balign 16\n" #sym ":\n" \
		".incbin \"" file "\"\n"                                                           \
		".global " #sym "_end\n.hidden " #sym "_end\n" #sym "_end:\n"                      \
		".previous\n");                                                                    \
	extern const char sym[], sym##_end[]

CONSOLE_EMBED(tvs__web_index_html, "web/index.html");
CONSOLE_EMBED(tvs__web_app_js, "web/console/app.js");
CONSOLE_EMBED(tvs__web_api_js, "web/console/api.js");
CONSOLE_EMBED(tvs__web_events_js, "web/console/events.js");
CONSOLE_EMBED(tvs__web_dom_js, "web/console/dom.js");
CONSOLE_EMBED(tvs__web_chart_js, "web/console/chart.js");
CONSOLE_EMBED(tvs__web_officer_js, "web/console/officer.js");
CONSOLE_EMBED(tvs__web_supervisor_js, "web/console/supervisor.js");
CONSOLE_EMBED(tvs__web_auditor_js, "web/console/auditor.js");
CONSOLE_EMBED(tvs__web_style_css, "web/console/style.css");
CONSOLE_EMBED(tvs__web_favicon_svg, "web/console/favicon.svg");

#define JS "text/javascript; charset=utf-8"

static const struct console_file {
	const char *name; /* the {file} of /console/{file} */
	const char *type;
	const char *start, *end;
} files[] = {
	{ "app.js", JS, tvs__web_app_js, tvs__web_app_js_end },
	{ "api.js", JS, tvs__web_api_js, tvs__web_api_js_end },
	{ "events.js", JS, tvs__web_events_js, tvs__web_events_js_end },
	{ "dom.js", JS, tvs__web_dom_js, tvs__web_dom_js_end },
	{ "chart.js", JS, tvs__web_chart_js, tvs__web_chart_js_end },
	{ "officer.js", JS, tvs__web_officer_js, tvs__web_officer_js_end },
	{ "supervisor.js", JS, tvs__web_supervisor_js, tvs__web_supervisor_js_end },
	{ "auditor.js", JS, tvs__web_auditor_js, tvs__web_auditor_js_end },
	{ "style.css", "text/css; charset=utf-8", tvs__web_style_css, tvs__web_style_css_end },
	{ "favicon.svg", "image/svg+xml", tvs__web_favicon_svg, tvs__web_favicon_svg_end },
};

SVC_HANDLER(h_console_index)
{
	tvs_http_reply_text(resp, 200, "text/html; charset=utf-8", tvs__web_index_html,
			    (size_t)(tvs__web_index_html_end - tvs__web_index_html));
}

SVC_HANDLER(h_console_file)
{
	const char *name = req->nparams > 0 ? req->params[0] : "";

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!strcmp(name, files[i].name)) {
			tvs_http_reply_text(resp, 200, files[i].type, files[i].start,
					    (size_t)(files[i].end - files[i].start));
			return;
		}
	tvs_http_reply_error(resp, 404, "not_found", "no such console file");
}
