package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// adminAuth is the header an operator's request carries: the stack's
// admin token.
var adminAuth = map[string]string{"Authorization": "Bearer " + testAdminToken}

// postHTTP POSTs body to url with headers and, where v is not nil, decodes
// the JSON answer into it whatever the status (an error answer is JSON
// too). It returns the response, its body read and closed: the status and
// headers are what callers check.
func postHTTP(t *testing.T, url, body string, headers map[string]string, v any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, val := range headers {
		req.Header.Set(k, val)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if v != nil {
		require.NoError(t, json.Unmarshal(data, v), string(data))
	}
	return resp
}

// post sends an admin request (retry, cancel) with the stack's token.
func post(t *testing.T, url string) int {
	t.Helper()
	return postWith(t, url, adminAuth)
}

// postWith sends a POST with no body and returns the status.
func postWith(t *testing.T, url string, headers map[string]string) int {
	t.Helper()
	return postHTTP(t, url, "", headers, nil).StatusCode
}

// postJSON sends a JSON body and decodes the JSON answer.
func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	var out map[string]any
	resp := postHTTP(t, url, body, map[string]string{"Content-Type": "application/json"}, &out)
	return resp.StatusCode, out
}
