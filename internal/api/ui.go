package api

import (
	"embed"
	"html/template"
	"net/http"
)

// The web UI: ui/index.html (a template for the framework's name), ui/app.js
// and ui/style.css, embedded. The page references its assets and the JSON
// API by relative paths only (ui/app.js, v1/plans), so it works both at the
// API's root and behind a proxy prefix such as DC/OS's /service/<name>/.
// It polls the API, so it updates itself; its buttons POST to the same
// /v1 commands, with an operator-supplied bearer token when one is set.
//
//go:embed ui
var uiFS embed.FS

var uiIndex = template.Must(template.ParseFS(uiFS, "ui/index.html"))

// uiAssets are the files served under /ui/.
var uiAssets = map[string]bool{"app.js": true, "style.css": true}

// uiCSP keeps the page to its own origin: no inline script, nothing
// fetched from elsewhere, not framed by another site.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

// routeUI adds the web UI's routes to mux.
func (s *Server) routeUI(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.uiPage)
	mux.HandleFunc("GET /ui/{file}", s.uiAsset)
}

func uiHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}

func (s *Server) uiPage(w http.ResponseWriter, r *http.Request) {
	uiHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := uiIndex.Execute(w, struct{ Name string }{s.Sched.FrameworkName()}); err != nil {
		s.Logger.Warn("web UI page", "err", err)
	}
}

func (s *Server) uiAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !uiAssets[name] {
		writeErr(w, http.StatusNotFound, "no such UI file: "+name)
		return
	}
	uiHeaders(w)
	http.ServeFileFS(w, r, uiFS, "ui/"+name)
}
