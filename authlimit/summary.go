package authlimit

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// DefaultSummaryEvery is Config.SummaryEvery's default.
const DefaultSummaryEvery = time.Minute

// maxSummaryClients bounds the addresses a window tells apart, so a
// flood from many addresses costs a fixed amount of memory.
const maxSummaryClients = 1024

// summary writes refused authentications to the log as at most two lines
// a window: the first refusal at once (so one mistyped token is seen with
// its address), then, when the window ends, how many more came, from how
// many clients and which one sent most. A flood of wrong tokens is then a
// few lines a minute, not one per attempt.
//
// A window is a timer, started by its first refusal and gone when it has
// written its line: nothing runs while nobody fails, and close writes
// what is pending.
type summary struct {
	log   zerolog.Logger
	every time.Duration
	// after is time.AfterFunc; tests end windows by hand.
	after func(time.Duration, func()) stopper

	mu    sync.Mutex
	timer stopper // nil while no window is open
	w     window
}

type stopper interface{ Stop() bool }

// window is what happened since the line that opened it.
type window struct {
	refused, throttled int
	surfaces           map[string]int
	clients            map[string]int
	otherClients       int // refusals from clients past maxSummaryClients
	redisErrors        int
	lastRedisError     string
}

func newSummary(log zerolog.Logger, every time.Duration) *summary {
	if every <= 0 {
		every = DefaultSummaryEvery
	}
	return &summary{log: log, every: every, after: func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }}
}

// refused notes one refused attempt from client on surface; throttled
// says it was refused for the client's earlier failures.
func (s *summary) refused(surface, client string, throttled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer == nil {
		s.timer = s.after(s.every, s.flush)
		s.log.Warn().Str("surface", surface).Str("client", client).Bool("throttled", throttled).
			Str("summary_every", s.every.String()).
			Msg("authentication refused; further refusals are summarized")
		return
	}
	w := &s.w
	if w.surfaces == nil {
		w.surfaces, w.clients = map[string]int{}, map[string]int{}
	}
	w.refused++
	if throttled {
		w.throttled++
	}
	w.surfaces[surface]++
	if _, seen := w.clients[client]; seen || len(w.clients) < maxSummaryClients {
		w.clients[client]++
	} else {
		w.otherClients++
	}
}

// redisFailed notes that Redis could not be asked about a client: the
// attempt was judged on its token alone.
func (s *summary) redisFailed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer == nil {
		s.timer = s.after(s.every, s.flush)
		s.log.Warn().Err(err).Msg("authentication throttle: Redis cannot be asked; attempts are judged on their token alone until it can")
		return
	}
	s.w.redisErrors++
	s.w.lastRedisError = err.Error()
}

// flush ends the window: one line for what came after its first, if
// anything did.
func (s *summary) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.w
	s.w, s.timer = window{}, nil
	if w.refused > 0 {
		top, topN := "", 0
		for c, n := range w.clients {
			if n > topN || (n == topN && c < top) {
				top, topN = c, n
			}
		}
		clients := len(w.clients)
		if w.otherClients > 0 {
			clients = -1 // more than the window tells apart
		}
		ev := s.log.Warn().Int("refused", w.refused).Int("throttled", w.throttled).
			Str("surfaces", countList(w.surfaces)).Str("busiest_client", top).Int("busiest_client_refused", topN).
			Str("window", s.every.String())
		if clients >= 0 {
			ev = ev.Int("clients", clients)
		} else {
			ev = ev.Str("clients", "more than "+strconv.Itoa(maxSummaryClients))
		}
		ev.Msg("authentication refusals since the last line")
	}
	if w.redisErrors > 0 {
		s.log.Warn().Int("count", w.redisErrors).Str("last_error", w.lastRedisError).
			Msg("authentication throttle: Redis could not be asked; those attempts were judged on their token alone")
	}
}

// close ends the open window now, writing what is pending.
func (s *summary) close() {
	s.mu.Lock()
	t := s.timer
	s.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	s.flush()
}

// countList renders {"api": 3, "ui": 1} as "api=3,ui=1".
func countList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, ",")
}
