package httpapi

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"
)

//go:embed swaggerui
var swaggerFiles embed.FS

//go:embed openapi.json
var openAPIDoc []byte

// swaggerUI is the embedded Swagger UI (see swaggerui/VERSION).
var swaggerUI = func() fs.FS {
	sub, err := fs.Sub(swaggerFiles, "swaggerui")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}()

// serveSwagger serves one file of the embedded Swagger UI for
// GET /swagger/*. It answers by itself rather than through http.FileServer,
// whose errors are plain text: a name it does not hold is a problem+json
// 404 like any other. Names are only ever looked up in the embedded tree,
// which fs.ValidPath keeps them inside ("..", "%2f" and the like name
// nothing there) and which has no links, so nothing else is reachable.
func serveSwagger(c echo.Context) error {
	return serveEmbedded(c, swaggerUI, "the Swagger UI has no such file")
}

// serveEmbedded serves the file the route's * names from an embedded tree
// (its index.html for an empty name), or a problem+json 404 saying missing.
func serveEmbedded(c echo.Context, tree fs.FS, missing string) error {
	name := c.Param("*")
	if name == "" {
		name = "index.html"
	}
	data, err := fs.ReadFile(tree, name)
	if err != nil {
		return problem(http.StatusNotFound, "not-found", missing)
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = http.DetectContentType(data)
	}
	return c.Blob(http.StatusOK, ct, data)
}

func serveOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/json", openAPIDoc)
}
