package browser_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/baconator/baconator/internal/browser"
)

// The checks are only as good as what Page notices: a console error, an
// uncaught exception and a missing script must each be seen.
func TestAPageRecordsWhatWentWrong(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/good", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><link rel=icon href="data:,"><title>t</title><p id=n>0</p><script>setTimeout(()=>{document.getElementById('n').textContent='1'},10)</script>`))
	})
	mux.HandleFunc("/bad", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><link rel=icon href="data:,"><title>t</title><script src="/missing.js"></script><script>console.error("boom"); undefinedFunction();</script>`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	p := browser.Open(t, 60*time.Second)
	p.Navigate(srv.URL + "/good")
	p.WaitTrue(`document.getElementById('n').textContent === '1'`, 10*time.Second)
	assert.Equal(t, "t", browser.Eval[string](p, `document.title`))
	assert.Empty(t, p.Errors())
	shot := filepath.Join(t.TempDir(), "good.png")
	p.Screenshot(shot)
	assert.FileExists(t, shot)

	p.Navigate(srv.URL + "/bad")
	errs := strings.Join(p.Errors(), "\n")
	for _, want := range []string{"404 (Not Found) " + srv.URL + "/missing.js", `console.error: "boom"`, "undefinedFunction is not defined"} {
		assert.Contains(t, errs, want)
	}
}
