package httpapi

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Role is what an API key may do; each role may do everything the roles
// below it may.
type Role int

// Roles.
const (
	RoleViewer   Role = 1 + iota // reads
	RoleSales                    // also places and cancels orders
	RoleOperator                 // also receives, adjusts, holds, releases, recalls and writes off inventory
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleSales:
		return "sales"
	case RoleOperator:
		return "operator"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// Keys maps API keys (by their SHA-256, so a lookup does not compare
// secrets byte by byte) to roles.
type Keys map[[sha256.Size]byte]Role

// ParseKeys parses "key1:operator,key2:sales" (commas or newlines between
// entries; blank lines and # comments ignored).
func ParseKeys(s string) (Keys, error) {
	keys := Keys{}
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(s, ",", "\n")))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, role, ok := strings.Cut(line, ":")
		key, role = strings.TrimSpace(key), strings.TrimSpace(role)
		if !ok || key == "" {
			return nil, fmt.Errorf("api keys entry %d: want key:role", n)
		}
		if len(key) < 16 {
			return nil, fmt.Errorf("api keys entry %d: key shorter than 16 characters", n)
		}
		var r Role
		switch role {
		case "viewer":
			r = RoleViewer
		case "sales":
			r = RoleSales
		case "operator":
			r = RoleOperator
		default:
			return nil, fmt.Errorf("api keys entry %d: role %q: want viewer, sales or operator", n, role)
		}
		keys[sha256.Sum256([]byte(key))] = r
	}
	return keys, sc.Err()
}

// ReadKeys parses keys from a file in ParseKeys' format.
func ReadKeys(r io.Reader) (Keys, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	return ParseKeys(string(b))
}

// require lets a request through if its bearer key's role is at least
// min. With no keys configured (dev mode, loopback only) everything passes.
func (s *Server) require(min Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if len(s.cfg.Keys) == 0 {
				return next(c)
			}
			auth := c.Request().Header.Get(echo.HeaderAuthorization)
			token, ok := strings.CutPrefix(auth, "Bearer ")
			role, known := s.cfg.Keys[sha256.Sum256([]byte(strings.TrimSpace(token)))]
			if !ok || !known {
				p := problem(http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <api key>")
				p.headers = map[string]string{"WWW-Authenticate": `Bearer realm="baconator"`}
				return p
			}
			if role < min {
				return problem(http.StatusForbidden, "forbidden", fmt.Sprintf("this call needs the %s role; the key has %s", min, role))
			}
			return next(c)
		}
	}
}
