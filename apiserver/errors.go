package apiserver

import "github.com/gin-gonic/gin"

// apiError is the body of every error answer: {"error": {"code", "message", "field"}}.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// abort answers with an error body and stops the handler chain.
func abort(c *gin.Context, status int, code, message, field string) {
	c.AbortWithStatusJSON(status, gin.H{"error": apiError{Code: code, Message: message, Field: field}})
}
