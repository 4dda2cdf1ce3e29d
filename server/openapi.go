package server

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// OpenAPI is the API's OpenAPI 3 document, written by hand next to the
// code; a test fails when a route is missing from it.
//
//go:embed openapi/openapi.json
var OpenAPI []byte

func (a *api) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json; charset=utf-8", OpenAPI)
}
