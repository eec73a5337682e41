package serve

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sattva/sattva/llamacpp"
)

// ErrQueueFull is returned by submit when the queue of waiting requests is
// at its limit; the server answers 503 with Retry-After.
var ErrQueueFull = errors.New("serve: queue full")

// ErrShuttingDown is returned for requests that arrive after Shutdown began,
// and carried by requests cut at its deadline.
var ErrShuttingDown = errors.New("serve: server is shutting down")

// job is one generation request between a handler and the scheduler.
type job struct {
	ctx    context.Context
	cancel context.CancelFunc
	prompt []int32
	opts   llamacpp.SlotOptions
	// maxTokens caps the generated tokens (always > 0); ignoreEOS keeps
	// going past end-of-generation tokens.
	maxTokens int
	ignoreEOS bool
	enqueued  time.Time
	nGen      int // tokens delivered; the loop's own

	mu     sync.Mutex
	events []event
	notify chan struct{} // capacity 1: events were added
}

// event is a job's token, or its end (done) with a reason or an error.
type event struct {
	tok    llamacpp.SlotToken
	done   bool
	reason string // llamacpp.StopEOG, StopMaxTokens, StopContextFull
	err    error
	// set on the first event: prompt tokens and how many came from the cache
	promptTokens, reused int
	started              time.Time
}

func (j *job) push(e event) {
	j.mu.Lock()
	j.events = append(j.events, e)
	j.mu.Unlock()
	select {
	case j.notify <- struct{}{}:
	default:
	}
}

// take returns the events so far (the caller owns the slice).
func (j *job) take() []event {
	j.mu.Lock()
	defer j.mu.Unlock()
	ev := j.events
	j.events = nil
	return ev
}

// scheduler owns the Slots and runs the continuous batching loop on one
// goroutine: each iteration starts waiting jobs in free slots, stops the
// slots of cancelled jobs, and decodes one step.
type scheduler struct {
	slots    *llamacpp.Slots
	maxQueue int
	metrics  *metrics

	mu       sync.Mutex
	waiting  []*job
	draining bool
	wake     chan struct{} // capacity 1
	stopped  chan struct{} // closed when the loop has ended

	running []*job // per slot; only the loop goroutine touches it
	lastUse []int64
	tick    int64
}

func newScheduler(s *llamacpp.Slots, maxQueue int, m *metrics) *scheduler {
	return &scheduler{
		slots: s, maxQueue: maxQueue, metrics: m,
		wake: make(chan struct{}, 1), stopped: make(chan struct{}),
		running: make([]*job, s.Len()), lastUse: make([]int64, s.Len()),
	}
}

func (s *scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// submit queues j. It fails with ErrQueueFull or ErrShuttingDown.
func (s *scheduler) submit(j *job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return ErrShuttingDown
	}
	if len(s.waiting) >= s.maxQueue {
		return ErrQueueFull
	}
	j.enqueued = time.Now()
	s.waiting = append(s.waiting, j)
	s.metrics.queue.Set(float64(len(s.waiting)))
	s.poke()
	return nil
}

// withdraw removes a job that has not started from the queue (its client
// left); a running one is stopped by the loop when it sees ctx done.
func (s *scheduler) withdraw(j *job) {
	j.cancel()
	s.mu.Lock()
	for i, w := range s.waiting {
		if w == j {
			s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
			break
		}
	}
	s.metrics.queue.Set(float64(len(s.waiting)))
	s.mu.Unlock()
	s.poke()
}

// drain refuses new jobs from now on.
func (s *scheduler) drain() {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.poke()
}

// busy is the number of running and waiting jobs (for the loop's own use
// and for Shutdown).
func (s *scheduler) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiting)
}

// run is the loop. It returns when ctx is done, after failing every job.
func (s *scheduler) run(ctx context.Context) {
	defer close(s.stopped)
	defer func() {
		for i, j := range s.running {
			if j != nil {
				s.finish(i, event{done: true, err: ErrShuttingDown})
			}
		}
		s.mu.Lock()
		for _, j := range s.waiting {
			j.push(event{done: true, err: ErrShuttingDown})
		}
		s.waiting = nil
		s.mu.Unlock()
		s.slots.Close()
	}()
	for {
		s.admit()
		active := 0
		for i, j := range s.running {
			if j == nil {
				continue
			}
			if j.ctx.Err() != nil {
				s.finish(i, event{done: true, err: j.ctx.Err()})
				continue
			}
			active++
		}
		s.metrics.slotsBusy.Set(float64(active))
		if active == 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
				continue
			}
		}
		if ctx.Err() != nil {
			return
		}
		toks, err := s.slots.Step()
		if err != nil {
			// The decode failed: Step has stopped every slot.
			for i, j := range s.running {
				if j != nil {
					s.finish(i, event{done: true, err: err})
				}
			}
			continue
		}
		for _, t := range toks {
			s.deliver(t)
		}
	}
}

// admit starts waiting jobs in free slots: each in the free slot whose
// cached tokens share the longest prefix with its prompt (ties: the least
// recently used).
func (s *scheduler) admit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.waiting) > 0 {
		j := s.waiting[0]
		if j.ctx.Err() != nil {
			s.waiting = s.waiting[1:]
			j.push(event{done: true, err: j.ctx.Err()})
			continue
		}
		best, bestLen := -1, -1
		for i, r := range s.running {
			if r != nil {
				continue
			}
			n := s.slots.CommonPrefix(i, j.prompt)
			if n > bestLen || n == bestLen && s.lastUse[i] < s.lastUse[best] {
				best, bestLen = i, n
			}
		}
		if best < 0 {
			break
		}
		s.waiting = s.waiting[1:]
		reused, err := s.slots.Start(best, j.prompt, j.opts)
		if err != nil {
			j.push(event{done: true, err: err})
			continue
		}
		s.running[best] = j
		s.tick++
		s.lastUse[best] = s.tick
		now := time.Now()
		s.metrics.queueWait.Observe(now.Sub(j.enqueued).Seconds())
		s.metrics.promptTokens.Add(float64(len(j.prompt)))
		s.metrics.reusedTokens.Add(float64(reused))
		j.push(event{promptTokens: len(j.prompt), reused: reused, started: now})
	}
	if len(s.waiting) == 0 {
		s.waiting = nil // let the backing array go
	}
	s.metrics.queue.Set(float64(len(s.waiting)))
}

// deliver hands a sampled token to its job and ends the job when it is done.
func (s *scheduler) deliver(t llamacpp.SlotToken) {
	j := s.running[t.Slot]
	if j == nil {
		return
	}
	j.nGen++
	if t.Err != nil {
		s.finish(t.Slot, event{done: true, err: t.Err})
		return
	}
	if t.EOG && !j.ignoreEOS {
		s.finish(t.Slot, event{done: true, reason: llamacpp.StopEOG})
		return
	}
	s.metrics.genTokens.Inc()
	j.push(event{tok: t})
	switch {
	case j.nGen >= j.maxTokens:
		s.finish(t.Slot, event{done: true, reason: llamacpp.StopMaxTokens})
	case t.Full:
		s.finish(t.Slot, event{done: true, reason: llamacpp.StopContextFull})
	}
}

// finish ends the job in slot i with e.
func (s *scheduler) finish(i int, e event) {
	j := s.running[i]
	s.slots.Stop(i)
	s.running[i] = nil
	j.push(e)
}
