package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// net/http refuses some requests itself, before any handler runs, writing
// a plain-text answer straight onto the connection: a Transfer-Encoding
// other than one "chunked" (501), an HTTP version other than 1.x (505),
// a malformed request line, Host or header (400), headers over
// MaxHeaderBytes (431), an Expect other than 100-continue (417). The
// contract wants problem+json for every error and no 5xx for any input.
//
// Each of these answers is one Write, which conn.Write recognises and
// replaces here. The other way, reading ahead of net/http to refuse such
// requests first, would need a second HTTP/1 parser in front of net/http's
// that tracked every keep-alive request's framing; any disagreement
// between the two is a request-smuggling hazard. The answers are instead
// recognised exactly: a status line and then precisely the header block
// net/http writes for them, which no handler's response can begin with
// (net/http writes a handler's own headers first, sorted, and adds Date;
// this API's middleware always adds X-Content-Type-Options).
// TestNetHTTPRefusalsAreProblems holds this against the net/http in use.

// Header blocks of net/http's own refusals, after the status line.
var (
	refusalHeaders     = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")
	expectationHeaders = []byte("\r\nConnection: close\r\nDate: ")
	expectationEnd     = []byte("\r\nContent-Length: 0\r\n\r\n")
)

// rewriteRefusal returns the problem+json answer that replaces p if p is
// one of net/http's own refusals, or false. It costs a few byte compares
// on any other write.
func rewriteRefusal(p []byte) ([]byte, bool) {
	// "HTTP/1.1 400 " at least, with a 4xx or 5xx status.
	if len(p) < 13 || p[0] != 'H' || (p[9] != '4' && p[9] != '5') || p[12] != ' ' ||
		!(bytes.HasPrefix(p, []byte("HTTP/1.1 ")) || bytes.HasPrefix(p, []byte("HTTP/1.0 "))) {
		return nil, false
	}
	lineEnd := bytes.IndexByte(p, '\r')
	if lineEnd < 13 {
		return nil, false
	}
	rest := p[lineEnd:]
	var text []byte
	switch {
	case bytes.HasPrefix(rest, refusalHeaders):
		_, text, _ = bytes.Cut(p[13:lineEnd], []byte(": ")) // "Bad Request: missing required Host header"
	case bytes.HasPrefix(p[9:], []byte("417 ")) && bytes.HasPrefix(rest, expectationHeaders) && bytes.HasSuffix(rest, expectationEnd) &&
		len(rest) == len(expectationHeaders)+len(http.TimeFormat)+len(expectationEnd):
	default:
		return nil, false
	}
	status, err := strconv.Atoi(string(p[9:12]))
	if err != nil {
		return nil, false
	}
	return refusalProblem(string(p[:8]), status, string(text)), true
}

// refusalProblem is the answer for one of net/http's refusals. Those it
// makes with a 5xx are the client's doing, so they become 400s.
func refusalProblem(proto string, status int, text string) []byte {
	var p *Problem
	switch status {
	case http.StatusNotImplemented:
		p = problem(http.StatusBadRequest, "unsupported-transfer-encoding", "Transfer-Encoding may only be chunked, given once; send Content-Length otherwise")
	case http.StatusHTTPVersionNotSupported:
		p = problem(http.StatusBadRequest, "unsupported-http-version", "this server speaks HTTP/1.1 and HTTP/1.0 only")
	case http.StatusRequestHeaderFieldsTooLarge:
		p = problem(status, "headers-too-large", "the request line and headers are over "+strconv.Itoa(headerMaxBytes>>10)+" KiB")
	case http.StatusExpectationFailed:
		p = problem(status, "expectation-failed", "Expect may only be 100-continue")
	case http.StatusBadRequest:
		detail := "malformed request"
		if text != "" {
			detail += ": " + text // net/http's texts are fixed phrases, never request data
		}
		p = problem(status, "malformed-request", detail)
	default:
		if status >= 500 {
			status = http.StatusBadRequest
		}
		p = problem(status, "malformed-request", "the request could not be read")
	}
	body, _ := json.Marshal(p)
	return rawResponse(proto, p.Status, body, "")
}

// rawResponse is a whole HTTP/1 response that closes the connection,
// written without a ResponseWriter, with the headers every answer of this
// API carries.
func rawResponse(proto string, status int, body []byte, extraHeaders string) []byte {
	b := make([]byte, 0, 256+len(body))
	b = append(b, proto...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nContent-Type: application/problem+json\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"...)
	b = append(b, extraHeaders...)
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}
