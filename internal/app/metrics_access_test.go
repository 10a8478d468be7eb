package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/podium-broadcast/podium/internal/config"
)

const metricsToken = "metrics-token-0123456789"

// getMetrics fetches url with token (none when empty) and returns the status and body.
func getMetrics(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestMetricsToken: with metrics_token set, /metrics answers 401 without
// the token (or with another one) and the metrics with it.
func TestMetricsToken(t *testing.T) {
	p := startPodium(t, options{configure: func(c *config.Config) { c.MetricsToken = metricsToken }})
	for _, token := range []string{"", "wrong-token-0123456789", p.AdminToken} {
		if status, body := getMetrics(t, p.base+"/metrics", token); status != 401 || strings.Contains(body, "podium_") {
			t.Fatalf("/metrics with token %q: %d %.200s, want 401 without metrics", token, status, body)
		}
	}
	if status, body := getMetrics(t, p.base+"/metrics", metricsToken); status != 200 || !strings.Contains(body, "podium_http_connections ") {
		t.Fatalf("/metrics with the metrics token: %d %.200s", status, body)
	}
}

// TestMetricsAddress: with metrics_addr set, /metrics is served there (with
// its token) and not on http_addr, where the API goes on.
func TestMetricsAddress(t *testing.T) {
	p := startPodium(t, options{configure: func(c *config.Config) { c.MetricsAddr, c.MetricsToken = "127.0.0.1:0", metricsToken }})
	if p.MetricsAddr() == "" || p.MetricsAddr() == p.HTTPAddr() {
		t.Fatalf("metrics address %q beside http %q", p.MetricsAddr(), p.HTTPAddr())
	}
	if status, body := getMetrics(t, p.base+"/metrics", metricsToken); status != 404 || strings.Contains(body, "podium_") {
		t.Fatalf("/metrics on http_addr: %d %.200s, want 404", status, body)
	}
	separate := "http://" + p.MetricsAddr() + "/metrics"
	if status, _ := getMetrics(t, separate, ""); status != 401 {
		t.Fatalf("/metrics on metrics_addr without the token: %d, want 401", status)
	}
	if status, body := getMetrics(t, separate, metricsToken); status != 200 || !strings.Contains(body, "podium_http_connections ") {
		t.Fatalf("/metrics on metrics_addr: %d %.200s", status, body)
	}
	if status := p.api("GET", "/api/v1/feeds", p.AdminToken, nil, nil); status != 200 {
		t.Fatalf("API beside a separate metrics address: %d", status)
	}
}
