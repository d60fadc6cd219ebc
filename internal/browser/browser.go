// Package browser drives a headless Chromium for the tests that check what
// a person sees — the live floor page, the load report — the way a person
// would: the page loads, its scripts run without an error, its numbers
// move, and a screenshot shows it.
//
// Chromium comes from the system (apt's chromium, or BACONATOR_CHROMIUM).
// Where there is none the checks skip with a message saying so, unless
// BACONATOR_REQUIRE_BROWSER is set (CI sets it once it has installed
// Chromium): then a missing browser fails the test instead of hiding it.
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Find returns the Chromium to drive: BACONATOR_CHROMIUM, else the first of
// chromium, chromium-browser, google-chrome on the PATH.
func Find() (string, bool) {
	if p := os.Getenv("BACONATOR_CHROMIUM"); p != "" {
		return p, true
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// Page is one headless tab. It records every console error, uncaught
// exception and failed load the page meets.
type Page struct {
	t      testing.TB
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// Open starts a headless Chromium on a blank tab, or skips t when there is
// no Chromium (fails it if BACONATOR_REQUIRE_BROWSER is set). Everything is
// stopped when t ends; every action on the page is bounded by timeout.
func Open(t testing.TB, timeout time.Duration) *Page {
	t.Helper()
	path, ok := Find()
	if !ok {
		msg := "headless-browser check skipped: no Chromium found (apt-get install chromium, or set BACONATOR_CHROMIUM)"
		if os.Getenv("BACONATOR_REQUIRE_BROWSER") != "" {
			t.Fatal(msg + ", and BACONATOR_REQUIRE_BROWSER is set")
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1000),
	)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	p := &Page{t: t}
	ctx, cancelTab := chromedp.NewContext(ctx, chromedp.WithListener(p.listen))
	t.Cleanup(func() { cancelTab(); cancelAlloc(); cancelTimeout() })
	p.ctx = ctx
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	return p
}

func (p *Page) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var args []string
		for _, a := range ev.Args {
			if a.Value != nil {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		msg = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg = fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, d.Text)
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level != cdplog.EntryLevelError {
			return
		}
		msg = fmt.Sprintf("%s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
	default:
		return
	}
	p.mu.Lock()
	p.errors = append(p.errors, msg)
	p.mu.Unlock()
}

// Errors is what the page has logged as errors so far.
func (p *Page) Errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errors...)
}

// Navigate loads url and waits until its load event.
func (p *Page) Navigate(url string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(url)); err != nil {
		p.t.Fatalf("load %s: %v", url, err)
	}
}

// Eval evaluates a JavaScript expression on the page and returns its value.
func Eval[T any](p *Page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// WaitTrue waits until the JavaScript expression is true, checking it on
// every animation frame, for at most within.
func (p *Page) WaitTrue(expr string, within time.Duration) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, within)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr)); err != nil {
		p.t.Fatalf("waited %s for %s: %v (page errors: %v)", within, expr, err, p.Errors())
	}
}

// Screenshot writes the whole page to path: a PNG if path ends in .png,
// else a JPEG (a tenth of the size).
func (p *Page) Screenshot(path string) {
	p.t.Helper()
	quality := 85
	if strings.HasSuffix(path, ".png") {
		quality = 100
	}
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(quality))
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
}

// Keep writes a screenshot named name (.png, else a JPEG) where a person
// can look at it: into $BACONATOR_SCREENSHOTS (a directory, made if
// missing) when set — CI sets it — else into the test's own directory,
// which goes when the test ends. It returns the path.
func (p *Page) Keep(name string) string {
	p.t.Helper()
	dir := os.Getenv("BACONATOR_SCREENSHOTS")
	if dir == "" {
		dir = p.t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	p.Screenshot(path)
	p.t.Logf("screenshot: %s", path)
	return path
}

// Context is the tab's context, for chromedp actions this type lacks.
func (p *Page) Context() context.Context { return p.ctx }
