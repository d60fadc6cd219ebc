package httpapi

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"
)

//go:embed swaggerui
var swaggerFiles embed.FS

//go:embed openapi.json
var openAPIDoc []byte

// swaggerHandler serves the embedded Swagger UI (see swaggerui/VERSION).
func swaggerHandler() http.Handler {
	sub, err := fs.Sub(swaggerFiles, "swaggerui")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return http.StripPrefix("/swagger/", http.FileServer(http.FS(sub)))
}

func serveOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/json", openAPIDoc)
}
