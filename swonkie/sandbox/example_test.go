package sandbox_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// A sandbox with a fault plan: every reply to POST /media is lost after
// the media was made. Introspection shows what the client cannot: the
// media exists, and nobody knows its id.
func Example() {
	clock := &sandbox.OffsetClock{}
	sb, err := sandbox.New(sandbox.Options{
		APIID: "id", APIKey: "key", Seed: 1, Clock: clock,
		Faults: sandbox.FaultPlan{"POST /media": {LostReply: 1}},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	defer srv.Close()
	c, err := swonkie.New(swonkie.Config{BaseURL: srv.URL + "/v2", APIID: "id", APIKey: "key"})
	if err != nil {
		log.Fatal(err)
	}

	_, err = c.CreateMedia(context.Background(), swonkie.CreateMediaRequest{Name: "a.png"})
	fmt.Println("client saw an answer:", err == nil, "- retry?", swonkie.IsTransient(err))

	st := sb.Stats()
	fmt.Println("created:", st.Media.Created, "lost creates:", len(st.Media.LostCreates), "orphaned:", len(st.Media.Orphaned))
	fmt.Println("faults:", st.Faults["POST /media"])

	// Swonkie deletes media nobody confirmed; jump past that.
	clock.Advance(25 * time.Hour)
	info, _ := sb.Media(st.Media.LostCreates[0])
	fmt.Println("a day later:", info.State, "- expired:", sb.Stats().Media.Expired)
	// Output:
	// client saw an answer: false - retry? true
	// created: 1 lost creates: 1 orphaned: 1
	// faults: map[lostReply:1]
	// a day later: EXPIRED - expired: 1
}

// ParseFaultPlan reads the plans the standalone sandbox takes with
// -faults, inline or from a file.
func ExampleParseFaultPlan() {
	plan, err := sandbox.ParseFaultPlan(`{"*": {"error5xx": 0.05}, "POST /posts": {"lostReply": 0.1}, "GET /media/{id}": {"rateLimit": 0.2, "retryAfter": 3}}`)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(plan["POST /posts"].LostReply, plan["GET /media/{id}"].RetryAfter)
	_, err = sandbox.ParseFaultPlan(`{"POST /post": {"reset": 0.1}}`)
	fmt.Println(err != nil)
	// Output:
	// 0.1 3s
	// true
}
