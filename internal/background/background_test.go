package background_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/background"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/tracing"
)

// TestLoopTraces: a named loop traces each step that did work as its job,
// with the step's database statements as children, and no idle step; an
// unnamed loop leaves tracing to its step.
func TestLoopTraces(t *testing.T) {
	rc := testenv.NewTraces(t)
	shutdown, err := tracing.Setup(t.Context(), rc.URL, "test")
	if err != nil {
		t.Fatal(err)
	}
	run := func(l *background.Loop, query string) {
		ctx, cancel := context.WithCancel(t.Context())
		var steps atomic.Int32
		done := make(chan struct{})
		go func() {
			defer close(done)
			l.Run(ctx, time.Hour, func(ctx context.Context) bool {
				_, end := tracing.StartStatement(ctx, "sqlite", query)
				end(nil)
				if steps.Add(1) == 3 { // two steps did work, the third none
					cancel()
					return false
				}
				return true
			})
		}()
		<-done
	}
	run(&background.Loop{Name: "named"}, "SELECT named")
	run(&background.Loop{}, "SELECT unnamed")
	if err := shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	spans := rc.Spans()
	var jobs int
	for _, s := range spans {
		switch {
		case s.Name == "job named":
			jobs++
			if testenv.Statements(spans, s) != 1 {
				t.Errorf("the job's span has %d statements, want its step's one", testenv.Statements(spans, s))
			}
		case s.Name == "SELECT":
		default:
			t.Errorf("unexpected span %q", s.Name)
		}
	}
	if jobs != 2 || len(spans) != 4 {
		t.Errorf("%d job spans of %d spans; want 2 of 4 (the idle step and the unnamed loop leave none)", jobs, len(spans))
	}
}

func TestBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 7: 32 * time.Minute, 8: time.Hour, 50: time.Hour} {
		if got := background.Backoff(attempt); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", attempt, got, want)
		}
	}
}
