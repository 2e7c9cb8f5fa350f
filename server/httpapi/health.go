package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/ledger/httpmetrics"
)

func (h *Handlers) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// notReadyReason is all /readyz tells a caller when the server is not
// ready: the cause (which names the database's user, host and port) goes
// to the log only.
const notReadyReason = "the database is unreachable or its schema is not current; see the server's log"

// readyz answers 200 when the database is reachable and its schema current.
func (h *Handlers) readyz(c *gin.Context) {
	if h.Ready != nil {
		if err := h.Ready(c.Request.Context()); err != nil {
			h.logger().Warn("not ready", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": notReadyReason})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// notFound answers unknown routes: JSON under /api, a page elsewhere.
func (h *Handlers) notFound(c *gin.Context) {
	if strings.HasPrefix(c.Request.URL.Path, "/api/") {
		writeError(c, http.StatusNotFound, "not_found", "no such route: "+c.Request.Method+" "+c.Request.URL.Path, "")
		return
	}
	h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_page"))
}

// metricsPath is the route of the Prometheus metrics.
const metricsPath = "/metrics"

// serveMetrics serves the Prometheus metrics, when there are any: to
// anyone, or with MetricsToken set only to a bearer of it.
func (h *Handlers) serveMetrics(c *gin.Context) {
	if h.MetricsHandler == nil {
		writeError(c, http.StatusNotFound, "not_found", "this server has no metrics", "")
		return
	}
	httpmetrics.Protect(h.MetricsHandler, h.MetricsToken).ServeHTTP(c.Writer, c.Request)
}
