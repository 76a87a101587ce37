/* SHA-256 of a file, for the provenance of result files (input_sha256):
 * nettle's implementation (FIPS 180-4), the file streamed in 64 KiB blocks
 * so that memory does not grow with the recording. Declared in
 * include/dopflow/h5_writer.h. */
#include "dopflow/h5_writer.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHA256_BLOCK_BYTES (64 * 1024)

dop_status dop_file_sha256(const char *path, char hex[65], dop_error *err)
{
    dop_status status = DOP_OK;
    hex[0] = '\0';
    unsigned char *block = NULL;
    FILE *file = fopen(path, "rb");
    if (!file) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open for checksum: %s", path, strerror(errno));
    block = malloc(SHA256_BLOCK_BYTES);
    if (!block) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory for checksum", path);
        goto done;
    }
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    size_t n;
    while ((n = fread(block, 1, SHA256_BLOCK_BYTES, file)) > 0) sha256_update(&ctx, n, block);
    if (ferror(file)) {
        status = dop_error_set(err, DOP_ERR_IO, "%s: read error during checksum: %s", path, strerror(errno));
        goto done;
    }
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < SHA256_DIGEST_SIZE; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 0x0f];
    }
    hex[2 * SHA256_DIGEST_SIZE] = '\0';
done:
    free(block);
    fclose(file);
    return status;
}
