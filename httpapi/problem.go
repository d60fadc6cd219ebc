package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
)

// Problem is an RFC 9457 problem detail. Handlers return one as an error.
type Problem struct {
	Type    string       `json:"type"`
	Title   string       `json:"title"`
	Status  int          `json:"status"`
	Detail  string       `json:"detail,omitempty"`
	Errors  []FieldError `json:"errors,omitempty"`
	headers map[string]string
}

// FieldError names the field of a validation problem.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

func problem(status int, slug, detail string, errs ...FieldError) *Problem {
	return &Problem{Type: "/problems/" + slug, Title: http.StatusText(status), Status: status, Detail: detail, Errors: errs}
}

// invalid is a 400 naming the fields at fault.
func invalid(errs ...FieldError) *Problem {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Field + ": " + e.Message
	}
	return problem(http.StatusBadRequest, "validation", strings.Join(parts, "; "), errs...)
}

// statusOf maps every error the engine returns to an HTTP status: the one
// place where domain errors meet HTTP.
func statusOf(err error) (status int, slug string) {
	switch {
	case errors.Is(err, inventory.ErrInvalid), errors.Is(err, inventory.ErrBadWeight):
		return http.StatusBadRequest, "validation"
	case errors.Is(err, inventory.ErrExpired):
		return http.StatusUnprocessableEntity, "already-expired"
	case errors.Is(err, inventory.ErrBelowZero):
		return http.StatusUnprocessableEntity, "below-zero"
	case errors.Is(err, actors.ErrNotFound):
		return http.StatusNotFound, "not-found"
	case errors.Is(err, actors.ErrDuplicatePallet):
		return http.StatusConflict, "duplicate-pallet"
	case errors.Is(err, actors.ErrOrderConflict):
		return http.StatusConflict, "order-id-reused"
	case errors.Is(err, actors.ErrNotCancellable):
		return http.StatusConflict, "not-cancellable"
	case errors.Is(err, inventory.ErrFinal):
		return http.StatusConflict, "status-final"
	case errors.Is(err, actors.ErrIntakeFull):
		return http.StatusTooManyRequests, "intake-full"
	case errors.Is(err, actors.ErrClosed):
		return http.StatusServiceUnavailable, "shutting-down"
	case errors.Is(err, actors.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

// retryAfterSeconds is what a 429 or 503 tells clients to wait: the intake
// drains thousands of orders a second, so one second is plenty.
const retryAfterSeconds = "1"

// errorHandler turns every error — a Problem, an Echo error (unknown route,
// wrong method, oversized body) or an engine error — into problem+json.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var p *Problem
	var he *echo.HTTPError
	switch {
	case errors.As(err, &p):
	case errors.As(err, &he):
		p = problem(he.Code, strings.ReplaceAll(strings.ToLower(http.StatusText(he.Code)), " ", "-"), fmt.Sprint(he.Message))
	default:
		status, slug := statusOf(err)
		detail := err.Error()
		switch {
		case status == http.StatusInternalServerError:
			s.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
			detail = "internal error"
		case slug == "unavailable":
			// The cause (a path, a disk error) is for the operator's log.
			s.log.Warn("request refused: writes cannot be persisted", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
			detail = "the server cannot persist writes right now; nothing was changed; retry later or against another instance"
		}
		p = problem(status, slug, detail)
		if status == http.StatusBadRequest {
			field, msg, _ := strings.Cut(detail, ": ")
			if i := strings.LastIndex(field, ": "); i >= 0 {
				field = field[i+2:]
			}
			p.Errors = []FieldError{{Field: field, Message: msg}}
		}
	}
	if p.Status == http.StatusTooManyRequests || p.Status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", retryAfterSeconds)
	}
	for k, v := range p.headers {
		c.Response().Header().Set(k, v)
	}
	body, _ := json.Marshal(p)
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	_, _ = c.Response().Write(body)
}
