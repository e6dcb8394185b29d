/* kiln dataset and transform plugins — the C ABI between kiln and a plugin shared object.
 *
 * A plugin is a shared object exporting one function:
 *
 *     const kiln_plugin* kiln_plugin_entry(void);
 *
 * kiln finds plugins in its install directory (<libdir>/kiln/plugins), beside the tool
 * executables and on KILN_PLUGIN_PATH (colon-separated), loads them with dlopen, and refuses one
 * whose abi_version is not one it reads (KILN_PLUGIN_ABI_OLDEST..KILN_PLUGIN_ABI_VERSION), naming
 * the versions.
 *
 * ABI history: 1 the first; 2 adds kiln_dataset_api.notes at the end of the table (a plugin built
 * for ABI 1 still loads: kiln does not read the field it lacks).
 *
 * kiln does not trust what a plugin reports: a length, class count, sample shape, buffer request
 * or delivered array outside kiln's limits (kiln/core/limits.h), a sample that differs from the
 * declared sample_shape, or more bytes than the buffer held, is an error naming the plugin.
 *
 * Only C types cross this boundary. Nothing here throws, aborts or prints: a failing call returns
 * a non-zero kiln_status and writes a message (naming the file and what is wrong) into the
 * caller's err buffer. Every function of a dataset or transform may be called from several threads
 * at once with the same handle (the loader's workers); plugins keep per-call state on the stack
 * or in the caller's buffers.
 *
 * Images are u8 H×W×C (C = 1 grey or 3 RGB), row-major, tightly packed. Tensors are f32, C×H×W
 * for images after ToTensor (as torchvision), or any shape up to rank 4 for tabular data.
 */
#ifndef KILN_DATA_PLUGIN_H
#define KILN_DATA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_PLUGIN_ABI_VERSION 2
#define KILN_PLUGIN_ABI_OLDEST 1

typedef enum kiln_status {
    KILN_OK = 0,
    KILN_ERR_INVALID = 1,   /* bad configuration or argument */
    KILN_ERR_IO = 2,        /* a file could not be read */
    KILN_ERR_FORMAT = 3,    /* a file is not what it claims to be (the loader may skip the sample) */
    KILN_ERR_CAPACITY = 4,  /* the output buffer is too small: *needed says how many bytes to give */
} kiln_status;

typedef enum kiln_elem { KILN_U8 = 0, KILN_F32 = 1 } kiln_elem;

/* A sample's data: u8 images are H×W×C (shape = {H, W, C}, rank 3); f32 tensors any rank ≤ 4. */
typedef struct kiln_array {
    int32_t elem; /* a kiln_elem; an integer so that any value a plugin writes is well-defined to read */
    int32_t rank;
    int64_t shape[4];
    void* data;
} kiln_array;

/* ---- datasets ---- */
typedef struct kiln_dataset kiln_dataset; /* opaque, owned by the plugin */

typedef struct kiln_dataset_api {
    /* Opens a dataset. config is the text after "<plugin>:" on the command line, e.g.
     * "/usr/share/datasets/fashion-mnist,split=test" (each plugin documents its keys).
     * Returns NULL and fills err on failure. */
    kiln_dataset* (*open)(const char* config, char* err, size_t err_size);
    void (*close)(kiln_dataset* ds);
    int64_t (*length)(const kiln_dataset* ds);
    int32_t (*num_classes)(const kiln_dataset* ds);            /* 0 for regression data */
    const char* (*class_name)(const kiln_dataset* ds, int32_t c); /* UTF-8, valid until close */
    /* The shape every sample has, or 0 in a dimension that varies between samples (e.g. the
     * height and width of an ImageFolder of photos). */
    kiln_status (*sample_shape)(const kiln_dataset* ds, kiln_array* shape_only);
    /* Decodes sample i into out->data (capacity bytes), setting out->elem/rank/shape and *label
     * (class index, or a float bit pattern for regression targets). If capacity is too small it
     * returns KILN_ERR_CAPACITY with *needed set, and the caller retries with a larger buffer. */
    kiln_status (*get)(const kiln_dataset* ds, int64_t i, kiln_array* out, size_t capacity, size_t* needed,
                       int64_t* label, char* err, size_t err_size);
    /* ABI 2. What a user should know about the opened dataset that is not an error, e.g. files
     * left out and why, as UTF-8 lines; NULL or "" when there is nothing. Valid until close.
     * The pointer itself may be NULL (no notes). kiln-data info prints them; the tools print them
     * as warnings when they open the dataset. */
    const char* (*notes)(const kiln_dataset* ds);
} kiln_dataset_api;

/* ---- transforms ---- */
typedef struct kiln_transform kiln_transform; /* opaque, owned by the plugin */

typedef struct kiln_transform_api {
    const char* name;        /* "resize", "trivial_augment_wide", … */
    const char* description; /* one line, with its parameters */
    /* config: "key=value,key=value" (each transform documents its keys). */
    kiln_transform* (*create)(const char* config, char* err, size_t err_size);
    void (*destroy)(kiln_transform* t);
    /* Applies the transform to src, writing dst->data (capacity bytes) and dst's elem/rank/shape.
     * seed is this sample's random stream (derived from the run seed, the epoch and the sample
     * index, so results do not depend on thread count or order). Capacity works as in get(). */
    kiln_status (*apply)(const kiln_transform* t, const kiln_array* src, kiln_array* dst, size_t capacity,
                         size_t* needed, uint64_t seed, char* err, size_t err_size);
} kiln_transform_api;

/* ---- the plugin ---- */
typedef struct kiln_plugin {
    uint32_t abi_version;  /* KILN_PLUGIN_ABI_VERSION the plugin was built against */
    const char* name;      /* what users type: "idx", "imagefolder", "csv" */
    const char* version;   /* the plugin's own version, e.g. "1.0.0" */
    const char* description;
    const kiln_dataset_api* dataset;             /* NULL if the plugin offers no dataset */
    int32_t n_transforms;
    const kiln_transform_api* const* transforms; /* n_transforms entries */
} kiln_plugin;

typedef const kiln_plugin* (*kiln_plugin_entry_fn)(void);
#define KILN_PLUGIN_ENTRY_SYMBOL "kiln_plugin_entry"

#ifdef __cplusplus
}
#endif
#endif /* KILN_DATA_PLUGIN_H */
