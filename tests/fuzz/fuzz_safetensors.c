/* libFuzzer target: the safetensors header parser on arbitrary bytes. The
 * buffer stands for a whole file, so the parser must keep every read and every
 * tensor offset inside it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model_safetensors_header *header = malloc(sizeof *header);
    char error[MODEL_ERROR_SIZE];

    if (!header)
        return 0;
    if (model_safetensors_parse(data, size, header, error) == 0) {
        /* A header that passes must describe tensors inside the buffer. */
        for (int i = 0; i < header->layout.n_tensors; i++) {
            size_t end = header->data_start + header->offsets[i] + header->layout.tensors[i].count * sizeof(float);
            if (end > size)
                abort();
        }
        free(header->tokenizer);
    }
    free(header);
    return 0;
}
