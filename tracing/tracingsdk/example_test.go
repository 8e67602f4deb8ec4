package tracingsdk_test

import (
	"context"
	"fmt"

	"github.com/mediaflow/mediaflow/tracing/tracingsdk"
)

// A program sets tracing up once from its environment, installs it, and
// flushes it on the way out. With no OTEL_* exporter setting it is off.
func ExampleSetup() {
	env := map[string]string{"OTEL_SERVICE_NAME": "mediaflow-worker"}
	tr, err := tracingsdk.Setup(context.Background(), func(k string) string { return env[k] },
		tracingsdk.Build{Version: "v1.2.3", Commit: "abc1234"})
	if err != nil {
		fmt.Println("refuse to start:", err)
		return
	}
	tr.SetGlobal()
	defer func() { _ = tr.Shutdown(context.Background()) }()
	fmt.Println("tracing on:", tr.Enabled())
	// Output: tracing on: false
}
