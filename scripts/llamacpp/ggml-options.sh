#!/usr/bin/env sh
# scripts/llamacpp/ggml-options.sh — the CMake -D options that `make backends`
# and the GPU scripts (bench/gpu/plugins.sh) pass when they build ggml's
# backend plugins from the staged module tree (scripts/llamacpp/stage-ggml-src.sh).
#
# The pinned module's top-level CMakeLists.txt vendors ggml/src but not
# ggml/CMakeLists.txt, where ggml's option() defaults live: every option it does
# not set() itself is UNDEFINED in the staged tree, i.e. off. This list passes
# llama.cpp's own default for each such option, and says where we differ.
# Options the module set()s as plain variables (GGML_LLAMAFILE, GGML_CUDA_GRAPHS,
# GGML_CUDA_FA, GGML_CUDA_COMPRESSION_MODE, GGML_BACKEND_DL, GGML_CPU_ALL_VARIANTS,
# GGML_SCHED_MAX_COPIES, GGML_CUDA_PEER_MAX_BATCH_SIZE) cannot be changed by -D:
# a plain variable hides the cache entry. Table and reasons: docs/llamacpp.md.
# Prints one line of -D options.
opts="
-DGGML_CPU_REPACK=ON
-DGGML_CPU_HBM=OFF
-DGGML_CPU_KLEIDIAI=OFF
-DGGML_NATIVE=OFF
-DGGML_OPENMP=OFF
-DGGML_LTO=OFF
-DGGML_STATIC=OFF
-DGGML_BLAS=OFF
-DGGML_ACCELERATE=ON
-DGGML_SCHED_NO_REALLOC=OFF
-DGGML_CUDA_FORCE_MMQ=OFF
-DGGML_CUDA_FORCE_CUBLAS=OFF
-DGGML_CUDA_NO_PEER_COPY=OFF
-DGGML_CUDA_NO_VMM=OFF
-DGGML_CUDA_FA_ALL_QUANTS=OFF
"
# GGML_NATIVE=OFF: llama.cpp's default is ON (-march=native), which CMake
#   refuses with GGML_BACKEND_DL; the module builds every x86 variant instead
#   (GGML_CPU_ALL_VARIANTS) and ggml picks the best one at run time.
# GGML_OPENMP=OFF: llama.cpp's default is ON. sattva runs ggml inside a Go
#   process, whose cgo calls come from any of its OS threads; libgomp keeps a
#   thread team per calling thread. ggml's own thread pool (what Ollama uses
#   with this module) is used instead, in the plugins and the cgo build alike.
echo $opts
