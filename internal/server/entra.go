package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// entraClient fetches Entra ID's keys for the oauth service (its Entra.Fetch).
var entraClient = &http.Client{Timeout: 10 * time.Second}

// fetchEntra GETs the body of url: a 200 answer, at most 1 MiB (a JWKS is
// a few KiB).
func fetchEntra(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := entraClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}
