//go:build cgo

package llamacpp

/*
#include "helpers.h"
*/
import "C"

import (
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// Model is a loaded GGUF model: weights (unless VocabOnly), vocabulary,
// metadata and LoRA adapters. It is safe for concurrent use. Close frees it.
type Model struct {
	mu       sync.RWMutex // read: any use of model; write: Close
	model    *C.struct_llama_model
	vocab    *C.struct_llama_vocab
	adapters []loadedAdapter
	path     string
	log      *slog.Logger
	opts     ModelOptions
	nvocab   int
	eog      []int32
	ctxMu    sync.Mutex
	ctxs     map[*Context]struct{} // open contexts, closed by Close; nil once closing

	piecesOnce sync.Once
	pieces     []string // token text without specials, for generation
	// stopPieces: the text stop strings see, special tokens rendered
	// ("<|start_header_id|>"), as Ollama matches them.
	stopPieces []string
	buffers    []Buffer // weight buffers, from llama.cpp's load log
}

type loadedAdapter struct {
	a     *C.struct_llama_adapter_lora
	scale float32
}

// Load loads the GGUF model at path. See ModelOptions for the defaults. A
// missing file gives an error that errors.Is(fs.ErrNotExist); a file that is
// not GGUF, or that llama.cpp cannot load (unknown architecture, missing
// tensors), gives a *LoadError with InvalidInput true.
func Load(path string, o ModelOptions) (*Model, error) {
	log := o.Logger
	if log == nil {
		log = discard
	}
	e := initEngine("", o.Logger)
	if err := preflight(path, loadKind(o)); err != nil {
		return nil, err
	}
	arch, err := ggufArchitecture(path)
	if err != nil {
		return nil, err
	}

	p := C.llama_model_default_params()
	switch {
	case o.CPUOnly:
		// No GPU device at all, as llama-bench's `-dev none`: with only
		// n_gpu_layers 0 the GPU backend is still in every context and
		// llama.cpp offloads the matrix products of batches of 32 tokens
		// or more to it (op_offload).
		p.n_gpu_layers = 0
		none := (*C.ggml_backend_dev_t)(C.calloc(1, C.size_t(unsafe.Sizeof(C.ggml_backend_dev_t(nil)))))
		defer C.free(unsafe.Pointer(none))
		p.devices = none
	case o.GPULayers <= 0:
		p.n_gpu_layers = 999
	default:
		p.n_gpu_layers = C.int32_t(o.GPULayers)
	}
	p.main_gpu = C.int32_t(o.MainGPU)
	p.use_mmap = cBool(!o.NoMmap)
	p.vocab_only = cBool(o.VocabOnly)

	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	e.loadMu.Lock()
	e.sink.takeLastError()
	e.sink.startCapture()
	cm := C.llama_model_load_from_file(cpath, p)
	why := e.sink.takeLastError()
	bufLines := e.sink.stopCapture()
	e.loadMu.Unlock()
	if cm == nil {
		msg := "llama.cpp could not load it"
		if arch != "" {
			msg += " (architecture " + quote(arch) + ")"
		}
		if why != "" {
			msg += ": " + why
		}
		return nil, &LoadError{Path: path, Msg: msg, Invalid: true}
	}
	m := &Model{model: cm, vocab: C.llama_model_get_vocab(cm), path: path, log: log, opts: o, ctxs: map[*Context]struct{}{}}
	m.buffers = parseModelBuffers(bufLines)
	m.nvocab = int(C.llama_vocab_n_tokens(m.vocab))
	for t := 0; t < m.nvocab; t++ {
		if C.llama_vocab_is_eog(m.vocab, C.llama_token(t)) {
			m.eog = append(m.eog, int32(t))
		}
	}
	for _, a := range o.LoRA {
		if err := m.addAdapter(a); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

func (m *Model) addAdapter(a Adapter) error {
	if err := preflightAdapter(a); err != nil {
		return err
	}
	cpath := C.CString(a.Path)
	defer C.free(unsafe.Pointer(cpath))
	e := initEngine("", nil)
	e.loadMu.Lock()
	e.sink.takeLastError()
	ca := C.llama_adapter_lora_init(m.model, cpath)
	why := e.sink.takeLastError()
	e.loadMu.Unlock()
	if ca == nil {
		msg := "llama.cpp could not load this LoRA adapter for " + m.path
		if why != "" {
			msg += ": " + why
		}
		return &LoadError{Path: a.Path, Msg: msg, Invalid: true}
	}
	m.adapters = append(m.adapters, loadedAdapter{a: ca, scale: a.Scale})
	return nil
}

func quote(s string) string { return "\"" + s + "\"" }

func ggufArchitecture(path string) (string, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var buf [128]C.char
	switch C.sattva_gguf_arch(cpath, &buf[0], C.size_t(len(buf))) {
	case 0:
		return C.GoString(&buf[0]), nil
	case -1:
		return "", &LoadError{Path: path, Msg: "not a valid GGUF file (ggml's reader rejects it)", Invalid: true}
	default:
		return "", &LoadError{Path: path, Msg: "GGUF has no general.architecture string", Invalid: true}
	}
}

// Close frees the model, its adapters and every Context it made that is
// still open. It is idempotent.
func (m *Model) Close() error {
	m.ctxMu.Lock()
	ctxs := m.ctxs
	m.ctxs = nil
	m.ctxMu.Unlock()
	for c := range ctxs {
		c.Close()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.model == nil {
		return nil
	}
	for _, a := range m.adapters {
		C.llama_adapter_lora_free(a.a)
	}
	m.adapters = nil
	C.llama_model_free(m.model)
	m.model, m.vocab = nil, nil
	return nil
}

// use read-locks the model; it returns ErrClosed after Close.
func (m *Model) use() error {
	m.mu.RLock()
	if m.model == nil {
		m.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (m *Model) done() { m.mu.RUnlock() }

// Path is the file the model was loaded from.
func (m *Model) Path() string { return m.path }

// Meta returns the metadata value of key as text (llama.cpp's rendering;
// arrays are not available).
func (m *Model) Meta(key string) (string, bool) {
	if m.use() != nil {
		return "", false
	}
	defer m.done()
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	buf := make([]byte, 256)
	for {
		n := int(C.llama_model_meta_val_str(m.model, ckey, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))))
		if n < 0 {
			return "", false
		}
		if n < len(buf) {
			return string(buf[:n]), true
		}
		buf = make([]byte, n+1)
	}
}

// MetaKeys lists the model's metadata keys (scalars and arrays).
func (m *Model) MetaKeys() []string {
	if m.use() != nil {
		return nil
	}
	defer m.done()
	n := int(C.llama_model_meta_count(m.model))
	keys := make([]string, 0, n)
	var buf [512]C.char
	for i := 0; i < n; i++ {
		if C.llama_model_meta_key_by_index(m.model, C.int32_t(i), &buf[0], C.size_t(len(buf))) >= 0 {
			keys = append(keys, C.GoString(&buf[0]))
		}
	}
	return keys
}

// Description is llama.cpp's one-line summary ("llama 8B Q4_K - Medium").
// Where llama.cpp does not know the model's size class ("llama ?B F16": any
// shape it has no name for), the size is the parameter count instead
// ("llama 260K F32", "llama 1.2B Q4_K - Medium").
func (m *Model) Description() string {
	if m.use() != nil {
		return ""
	}
	defer m.done()
	var buf [256]C.char
	C.llama_model_desc(m.model, &buf[0], C.size_t(len(buf)))
	d := C.GoString(&buf[0])
	if strings.Contains(d, " ?B ") {
		d = strings.Replace(d, " ?B ", " "+paramLabel(uint64(C.llama_model_n_params(m.model)))+" ", 1)
	}
	return d
}

// paramLabel writes a parameter count as llama.cpp names model sizes: 260K,
// 15M, 1.2B, 8B (one decimal below 10, none at and above).
func paramLabel(n uint64) string {
	units := []struct {
		div  float64
		unit string
	}{{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}}
	for _, u := range units {
		if v := float64(n) / u.div; v >= 1 {
			if v < 10 {
				return strconv.FormatFloat(v, 'f', 1, 64) + u.unit
			}
			return strconv.FormatFloat(v, 'f', 0, 64) + u.unit
		}
	}
	return strconv.FormatUint(n, 10)
}

// Size is the weights' size in bytes and NParams their count.
func (m *Model) Size() (bytes, nparams uint64) {
	if m.use() != nil {
		return 0, 0
	}
	defer m.done()
	return uint64(C.llama_model_size(m.model)), uint64(C.llama_model_n_params(m.model))
}

// NLayer is the number of transformer blocks; NCtxTrain the training context.
func (m *Model) NLayer() int {
	if m.use() != nil {
		return 0
	}
	defer m.done()
	return int(C.llama_model_n_layer(m.model))
}

// NCtxTrain is the context length the model was trained with.
func (m *Model) NCtxTrain() int {
	if m.use() != nil {
		return 0
	}
	defer m.done()
	return int(C.llama_model_n_ctx_train(m.model))
}

// NVocab is the vocabulary size.
func (m *Model) NVocab() int { return m.nvocab }

func (m *Model) special(f func(*C.struct_llama_vocab) C.llama_token) int32 {
	if m.use() != nil {
		return -1
	}
	defer m.done()
	return int32(f(m.vocab))
}

// BOS is the beginning-of-sequence token, or -1.
func (m *Model) BOS() int32 {
	return m.special(func(v *C.struct_llama_vocab) C.llama_token { return C.llama_vocab_bos(v) })
}

// EOS is the end-of-sequence token, or -1.
func (m *Model) EOS() int32 {
	return m.special(func(v *C.struct_llama_vocab) C.llama_token { return C.llama_vocab_eos(v) })
}

// EOT is the end-of-turn token (<|eot_id|> for Llama 3), or -1.
func (m *Model) EOT() int32 {
	return m.special(func(v *C.struct_llama_vocab) C.llama_token { return C.llama_vocab_eot(v) })
}

// IsEOG reports whether tok ends a generation (eos, eot, eom, …).
func (m *Model) IsEOG(tok int32) bool {
	for _, t := range m.eog {
		if t == tok {
			return true
		}
	}
	return false
}

// EOGTokens lists every end-of-generation token. The caller must not modify it.
func (m *Model) EOGTokens() []int32 { return m.eog }

// Tokenize turns text into tokens. addSpecial adds BOS (and EOS) as the
// model's tokenizer config says; parseSpecial turns special-token text such
// as "<|eot_id|>" into its token instead of plain text.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error) {
	if err := m.use(); err != nil {
		return nil, err
	}
	defer m.done()
	if len(text) > 1<<30 {
		return nil, errorf("tokenize: text of %d bytes is too long", len(text))
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	toks := make([]int32, len(text)+2)
	for {
		n := int(C.llama_tokenize(m.vocab, ctext, C.int32_t(len(text)),
			(*C.llama_token)(unsafe.Pointer(unsafe.SliceData(toks))), C.int32_t(len(toks)), cBool(addSpecial), cBool(parseSpecial)))
		if n >= 0 {
			return toks[:n], nil
		}
		if n == -2147483648 || -n <= len(toks) {
			return nil, errorf("tokenize: llama_tokenize failed (%d)", n)
		}
		toks = make([]int32, -n)
	}
}

// Detokenize turns tokens back into text. removeSpecial drops a leading
// BOS and trailing EOS the tokenizer adds; unparseSpecial renders special
// tokens as their text (otherwise they render as nothing).
func (m *Model) Detokenize(toks []int32, removeSpecial, unparseSpecial bool) (string, error) {
	if err := m.use(); err != nil {
		return "", err
	}
	defer m.done()
	if err := m.checkTokens(toks); err != nil {
		return "", err
	}
	if len(toks) == 0 {
		return "", nil
	}
	buf := make([]byte, 8*len(toks)+16)
	for {
		n := int(C.llama_detokenize(m.vocab, (*C.llama_token)(unsafe.Pointer(unsafe.SliceData(toks))), C.int32_t(len(toks)),
			(*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), cBool(removeSpecial), cBool(unparseSpecial)))
		if n >= 0 {
			return string(buf[:n]), nil
		}
		if -n <= len(buf) {
			return "", errorf("detokenize: llama_detokenize failed (%d)", n)
		}
		buf = make([]byte, -n)
	}
}

func (m *Model) checkTokens(toks []int32) error {
	for i, t := range toks {
		if t < 0 || int(t) >= m.nvocab {
			return errorf("token %d at index %d is outside the vocabulary [0,%d)", t, i, m.nvocab)
		}
	}
	return nil
}

// TokenPiece is the text of one token, special tokens rendered
// ("<|eot_id|>"); "" for a token outside the vocabulary.
func (m *Model) TokenPiece(tok int32) string {
	if m.use() != nil {
		return ""
	}
	defer m.done()
	return m.piece(tok, true)
}

// piece needs the read lock held.
func (m *Model) piece(tok int32, special bool) string {
	if tok < 0 || int(tok) >= m.nvocab {
		return ""
	}
	var small [64]byte
	buf := small[:]
	for {
		n := int(C.llama_token_to_piece(m.vocab, C.llama_token(tok), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), 0, cBool(special)))
		if n >= 0 {
			return string(buf[:n])
		}
		buf = make([]byte, -n)
	}
}

// genPieces returns every token's generation text (specials not rendered),
// computed once; generation then allocates nothing per token.
func (m *Model) genPieces() []string {
	m.piecesOnce.Do(func() {
		p := make([]string, m.nvocab)
		sp := make([]string, m.nvocab)
		for t := range p {
			p[t] = m.piece(int32(t), false)
			sp[t] = p[t]
			if p[t] == "" {
				sp[t] = m.piece(int32(t), true)
			}
		}
		m.pieces, m.stopPieces = p, sp
	})
	return m.pieces
}

// allBare reports whether every prompt token renders as no text (BOS and
// other control tokens): the first generated token then starts the text, and
// its SentencePiece leading space is dropped, as llama.cpp's detokenizer,
// SentencePiece and transformers do.
func (m *Model) allBare(prompt []int32) bool {
	p := m.genPieces()
	for _, t := range prompt {
		if p[t] != "" {
			return false
		}
	}
	return true
}

// firstPiece is the text of tok at the start of a text (leading space of
// add_space_prefix vocabularies removed).
func (m *Model) firstPiece(tok int32) string {
	if m.use() != nil {
		return ""
	}
	defer m.done()
	var buf [256]byte
	n := int(C.llama_detokenize(m.vocab, (*C.llama_token)(unsafe.Pointer(&tok)), 1, (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), false, false))
	if n < 0 {
		return m.piece(tok, false)
	}
	return string(buf[:n])
}

// ApplyChatTemplate renders msgs with the model's own chat template
// (tokenizer.chat_template, through llama_chat_apply_template, which knows
// the common templates by their shape). addAssistant ends the prompt with
// the start of an assistant turn. ErrNoChatTemplate when there is none or
// llama.cpp does not recognise it.
func (m *Model) ApplyChatTemplate(msgs []ChatMessage, addAssistant bool) (string, error) {
	if err := m.use(); err != nil {
		return "", err
	}
	defer m.done()
	tmpl := C.llama_model_chat_template(m.model, nil)
	if tmpl == nil {
		return "", ErrNoChatTemplate
	}
	n := len(msgs)
	cmsgs := (*C.struct_llama_chat_message)(C.calloc(C.size_t(max(n, 1)), C.size_t(unsafe.Sizeof(C.struct_llama_chat_message{}))))
	defer C.free(unsafe.Pointer(cmsgs))
	cs := unsafe.Slice(cmsgs, max(n, 1))
	total := 0
	for i, msg := range msgs {
		cs[i].role = C.CString(msg.Role)
		cs[i].content = C.CString(msg.Content)
		total += len(msg.Role) + len(msg.Content)
	}
	defer func() {
		for i := range msgs {
			C.free(unsafe.Pointer(cs[i].role))
			C.free(unsafe.Pointer(cs[i].content))
		}
	}()
	buf := make([]byte, 2*total+256)
	for {
		r := int(C.llama_chat_apply_template(tmpl, cmsgs, C.size_t(n), cBool(addAssistant), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf))))
		if r < 0 {
			return "", ErrNoChatTemplate
		}
		if r <= len(buf) {
			return string(buf[:r]), nil
		}
		buf = make([]byte, r)
	}
}

// ChatTemplate is the model's tokenizer.chat_template ("" if none).
func (m *Model) ChatTemplate() string {
	if m.use() != nil {
		return ""
	}
	defer m.done()
	t := C.llama_model_chat_template(m.model, nil)
	if t == nil {
		return ""
	}
	return C.GoString(t)
}

// Device says where the model's layers run: the GPU when layers were
// offloaded to one, else the CPU device llama.cpp uses.
func (m *Model) Device() BackendInfo {
	e := initEngine("", nil)
	if !m.opts.CPUOnly {
		var gpus []BackendInfo
		for _, d := range e.devices {
			if d.Kind == "GPU" || d.Kind == "IGPU" {
				gpus = append(gpus, d)
			}
		}
		if len(gpus) > 0 {
			if m.opts.MainGPU >= 0 && m.opts.MainGPU < len(gpus) {
				return gpus[m.opts.MainGPU]
			}
			return gpus[0]
		}
	}
	for _, d := range e.devices {
		if d.Kind == "CPU" {
			return d
		}
	}
	return BackendInfo{Name: "CPU", Kind: "CPU", Builtin: true}
}
