//go:build !cgo

package llamacpp

// Slots is not available without cgo.
type Slots struct{}

// NewSlots returns ErrNoEngine.
func (c *Context) NewSlots() (*Slots, error) { return nil, ErrNoEngine }

func (s *Slots) Len() int                                                { return 0 }
func (s *Slots) Active(i int) bool                                       { return false }
func (s *Slots) CommonPrefix(i int, prompt []int32) int                  { return 0 }
func (s *Slots) Start(i int, prompt []int32, o SlotOptions) (int, error) { return 0, ErrNoEngine }
func (s *Slots) Stop(i int)                                              {}
func (s *Slots) Forget(i int)                                            {}
func (s *Slots) Step() ([]SlotToken, error)                              { return nil, ErrNoEngine }
func (s *Slots) Close() error                                            { return nil }
