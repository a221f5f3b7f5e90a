// Prints, as a JSON array, the natural-log probabilities llama.cpp gives every token after the
// token ids on its command line: the reference `scripts/check-logprobs.sh` compares anymodel's
// local backend with. Built against the libllama that `scripts/llama-bench.sh` builds.
//
//   llama-logprobs MODEL.gguf THREADS TOKEN...
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *data) {
    (void)data;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL.gguf THREADS TOKEN...\n", argv[0]);
        return 2;
    }
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model *model = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (model == NULL) {
        fprintf(stderr, "%s: llama.cpp cannot load it\n", argv[1]);
        return 1;
    }
    int n = argc - 3;
    llama_token *tokens = malloc(sizeof(llama_token) * (size_t)n);
    for (int i = 0; i < n; i++) tokens[i] = (llama_token)atoi(argv[3 + i]);
    struct llama_context_params params = llama_context_default_params();
    params.n_ctx = (uint32_t)n + 16;
    params.n_batch = (uint32_t)n;
    params.n_threads = params.n_threads_batch = atoi(argv[2]);
    struct llama_context *ctx = llama_init_from_model(model, params);
    if (ctx == NULL || llama_decode(ctx, llama_batch_get_one(tokens, n)) != 0) {
        fprintf(stderr, "%s: llama.cpp could not run the prompt\n", argv[1]);
        return 1;
    }
    const float *logits = llama_get_logits_ith(ctx, -1);
    int vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    double max = -INFINITY, total = 0.0;
    for (int i = 0; i < vocab; i++) max = logits[i] > max ? logits[i] : max;
    for (int i = 0; i < vocab; i++) total += exp(logits[i] - max);
    double norm = max + log(total);
    printf("[");
    for (int i = 0; i < vocab; i++) printf("%s%.6f", i ? "," : "", logits[i] - norm);
    printf("]\n");
    llama_free(ctx);
    llama_model_free(model);
    free(tokens);
    return 0;
}
