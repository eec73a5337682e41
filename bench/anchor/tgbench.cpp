// tgbench — llama-bench's pp/tg method in C++, over the llama.cpp objects that
// cgo compiles into sattva (linked from a Go c-archive, see build.sh). It is
// the same-machine anchor for `sattva bench`: the same library, the same
// plugins, the same card; only the driving language differs.
//
// What it mirrors from llama.cpp's tools/llama-bench (test_prompt, test_gen):
// one context per test with n_ctx = its tokens (512 for pp512), n_batch 2048, n_ubatch
// 512, F16 KV cache, all layers on the GPU, a persistent CPU threadpool made
// through the CPU backend's registry, a warm-up run, then r repetitions that
// each clear the cache, random tokens (BOS first), llama_decode of one token
// at a time for tg with llama_synchronize after each, no sampling.
//
// usage: tgbench MODEL PLUGIN_DIR [-p N] [-n N] [-r N] [-t N] [-c N] [--fa on|off] [--free 1]
//                [--clear-data 1] [--explicit 1]
// (--clear-data 1: llama_memory_clear(mem, true) as sattva does; --explicit 1:
// a llama_batch_init batch with positions, sequence 0 and the logits flags set,
// as sattva fills it, instead of llama_batch_get_one)
// (-c: this n_ctx for every test; --free 1: free each test's context and
// threadpool before the next, through sattva's llamacpp/freeorder.c)
// prints one JSON object per test on stdout.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <random>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"

extern "C" void sattva_llama_free(struct llama_context *ctx); // llamacpp/freeorder.c

static double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static void quiet_log(ggml_log_level level, const char *text, void *) {
    if (level >= GGML_LOG_LEVEL_WARN && level != GGML_LOG_LEVEL_CONT) fputs(text, stderr);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL PLUGIN_DIR [-p N] [-n N] [-r N] [-t N] [-c N] [--fa on|off] [--free 1] [--clear-data 1] [--explicit 1]\n", argv[0]);
        return 2;
    }
    const char *model_path = argv[1], *plugin_dir = argv[2];
    int n_prompt = 512, n_gen = 128, reps = 5, threads = 16, n_ctx = 0;
    bool fa = true, free_ctx = false, clear_data = false, explicit_batch = false;
    for (int i = 3; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "-p") n_prompt = atoi(argv[i + 1]);
        else if (a == "-n") n_gen = atoi(argv[i + 1]);
        else if (a == "-r") reps = atoi(argv[i + 1]);
        else if (a == "-t") threads = atoi(argv[i + 1]);
        else if (a == "-c") n_ctx = atoi(argv[i + 1]);
        else if (a == "--fa") fa = std::string(argv[i + 1]) == "on";
        else if (a == "--free") free_ctx = atoi(argv[i + 1]) != 0;
        else if (a == "--clear-data") clear_data = atoi(argv[i + 1]) != 0;
        else if (a == "--explicit") explicit_batch = atoi(argv[i + 1]) != 0;
        else { fprintf(stderr, "unknown flag %s\n", a.c_str()); return 2; }
    }
    llama_log_set(quiet_log, nullptr);
    ggml_backend_load_all_from_path(plugin_dir);
    llama_backend_init();

    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 999;
    llama_model *model = llama_model_load_from_file(model_path, mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", model_path); return 1; }
    const llama_vocab *vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);

    ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    ggml_backend_reg_t reg = cpu ? ggml_backend_dev_backend_reg(cpu) : nullptr;
    auto tp_new = reg ? (decltype(ggml_threadpool_new) *) ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_new") : nullptr;
    auto tp_free = reg ? (decltype(ggml_threadpool_free) *) ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_free") : nullptr;

    std::mt19937 rng(1);
    struct test { const char *kind; int n; };
    for (test t : {test{"pp", n_prompt}, test{"tg", n_gen}}) {
        if (t.n <= 0) continue;
        llama_context_params cp = llama_context_default_params();
        cp.n_ctx = n_ctx > 0 ? n_ctx : t.n; // llama-bench: n_prompt + n_gen of this test
        cp.n_batch = 2048;
        cp.n_ubatch = 512;
        cp.n_threads = cp.n_threads_batch = threads;
        cp.flash_attn_type = fa ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
        cp.no_perf = true;
        llama_context *ctx = llama_init_from_model(model, cp);
        if (!ctx) { fprintf(stderr, "cannot make a context\n"); return 1; }
        ggml_threadpool *tp = nullptr;
        if (tp_new) {
            ggml_threadpool_params tpp = ggml_threadpool_params_default(threads);
            tp = tp_new(&tpp);
            llama_attach_threadpool(ctx, tp, nullptr);
        }
        std::vector<llama_token> toks(t.n);
        llama_batch eb = llama_batch_init(2048, 0, 1);
        // decode n tokens from p at position pos0 (logits for the last only)
        auto decode = [&](llama_token *p, int n, int pos0) -> int {
            if (!explicit_batch) return llama_decode(ctx, llama_batch_get_one(p, n));
            for (int j = 0; j < n; j++) {
                eb.token[j] = p[j]; eb.pos[j] = pos0 + j; eb.n_seq_id[j] = 1;
                eb.seq_id[j][0] = 0; eb.logits[j] = j == n - 1;
            }
            eb.n_tokens = n;
            return llama_decode(ctx, eb);
        };
        auto run = [&]() -> double {
            llama_memory_clear(llama_get_memory(ctx), clear_data);
            double t0 = now_s();
            if (t.kind[0] == 'p') {
                for (auto &x : toks) x = rng() % n_vocab;
                toks[0] = llama_vocab_bos(vocab);
                for (int i = 0; i < t.n; i += 2048) {
                    int n = std::min(2048, t.n - i);
                    if (decode(toks.data() + i, n, i) != 0) { fprintf(stderr, "decode failed\n"); exit(1); }
                }
                llama_synchronize(ctx);
            } else {
                llama_token tok = llama_vocab_bos(vocab);
                for (int i = 0; i < t.n; i++) {
                    if (decode(&tok, 1, i) != 0) { fprintf(stderr, "decode failed\n"); exit(1); }
                    llama_synchronize(ctx);
                    tok = rng() % n_vocab;
                }
            }
            return now_s() - t0;
        };
        run(); // warm-up
        std::vector<double> ts;
        for (int r = 0; r < reps; r++) ts.push_back(t.n / run());
        double mean = 0, sd = 0;
        for (double x : ts) mean += x;
        mean /= ts.size();
        for (double x : ts) sd += (x - mean) * (x - mean);
        sd = ts.size() > 1 ? std::sqrt(sd / (ts.size() - 1)) : 0;
        printf("{\"name\":\"%s%d\",\"n_ctx\":%u,\"fa\":%s,\"threads\":%d,\"avg_ts\":%.2f,\"stddev_ts\":%.2f}\n",
               t.kind, t.n, llama_n_ctx(ctx), fa ? "true" : "false", threads, mean, sd);
        fflush(stdout);
        // By default the context and its threadpool stay allocated: the
        // pinned llama.cpp frees a CUDA context's backends before its
        // scheduler and crashes in llama_free; --free 1 frees them the way
        // sattva does (llamacpp/freeorder.c, linked with --wrap).
        if (free_ctx) {
            sattva_llama_free(ctx);
            if (tp && tp_free) tp_free(tp);
        }
    }
    _exit(0); // see above: no llama_free, no model free

}
