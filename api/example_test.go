package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/api"
	"github.com/mediaflow/mediaflow/internal/redisserver"
	"github.com/mediaflow/mediaflow/tasks"
)

// Serve the API over a tasks.Client, publish a request with an idempotency
// key, repeat it, and read the pipeline back.
func Example() {
	rc, stop := exampleRedis()
	defer stop()
	client := tasks.NewClient(rc)
	defer client.Close()
	h, err := api.New(client, api.Config{Tokens: []string{"example-token-0123456789"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	send := func(method, path, body string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer example-token-0123456789")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "order-1234")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &v)
		return resp, v
	}

	body := `{"media":[{"source":"https://cdn.example.com/summer.jpg"}],
	          "post":{"profileIds":["UHJvZmlsZUlk"],"caption":"Summer is here"},
	          "action":"publishNow"}`
	resp, rec := send("POST", "/v1/pipelines", body)
	fmt.Println(resp.StatusCode, rec["state"], rec["key"])
	location := resp.Header.Get("Location")

	resp, again := send("POST", "/v1/pipelines", body)
	fmt.Println(resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), again["id"] == rec["id"])

	resp, got := send("GET", location, "")
	fmt.Println(resp.StatusCode, got["id"] == rec["id"])

	resp, problem := send("POST", "/v1/pipelines", `{"media":[]}`)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"), problem["type"])
	// Output:
	// 202 pending order-1234
	// 200 true true
	// 200 true
	// 400 application/problem+json urn:mediaflow:problem:invalid-request
}

// Without a token there is no API: a missing API_TOKENS cannot open the
// queue to the network.
func ExampleNew_withoutToken() {
	client := tasks.NewClient(redis.NewClient(&redis.Options{}))
	defer client.Close()
	_, err := api.New(client, api.Config{})
	fmt.Println(errors.Is(err, api.ErrNoToken))
	// Output: true
}

// exampleRedis starts a private redis-server for one example.
func exampleRedis() (*redis.Client, func()) {
	dir, err := os.MkdirTemp("", "mediaflow-api-example-")
	if err != nil {
		panic(err)
	}
	srv, err := redisserver.Start(dir)
	if err != nil {
		panic(fmt.Sprintf("api example: %v; install Redis 6.2 or newer", err))
	}
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr})
	return rc, func() {
		_ = rc.Close()
		srv.Kill()
		_ = os.RemoveAll(dir)
	}
}
