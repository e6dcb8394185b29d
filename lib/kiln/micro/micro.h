/* kiln's micro runtime: runs a program kiln-export wrote (format.h) in memory the caller owns — no
   heap, exceptions, RTTI, threads, stdio or files — on a Cortex-M, on Linux boards and on the host.
   Its kernels are kiln's reference kernels (backend/reference/), the same source the CPU backend
   falls back to and is tested against; on targets with NEON, conv2d is the CPU backend's direct
   convolution (backend/direct/). A plain C interface; errors are status codes.

     static kiln_micro_model model;
     alignas(8) static unsigned char arena[TINYVGG_ARENA_BYTES];        // from the exported header
     if (kiln_micro_init(&model, tinyvgg_program, sizeof tinyvgg_program, arena, sizeof arena, NULL, 0))
         ...                                                            // kiln_micro_status_message()
     kiln_micro_set_pixels(&model, 0, camera_pixels);                   // u8 H×W×C, as the run's eval transforms
     kiln_micro_infer(&model);
     const float* logits = kiln_micro_output(&model);                   // [batch, classes]

   A training program (kiln-export --train) also takes the labels and a state region in RAM, where
   its weights and optimizer state live and can be read back (kiln_micro_state_at):
     alignas(8) static unsigned char state[TINYVGG_STATE_BYTES];
     kiln_micro_init(&model, program, size, arena, sizeof arena, state, sizeof state);
     kiln_micro_labels(&model)[0] = 3;  ... kiln_micro_train_step(&model, &loss);

   kiln_micro_init checks the whole program (its format version, op table, size, checksum and every
   offset against its region) and the caller's memory before it writes anything. */
#ifndef KILN_MICRO_MICRO_H
#define KILN_MICRO_MICRO_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kiln_micro_status {
    KILN_MICRO_OK = 0,
    KILN_MICRO_NOT_A_PROGRAM,     /* no kiln program magic at the start */
    KILN_MICRO_VERSION,           /* made for another program format version */
    KILN_MICRO_OP_TABLE,          /* made by a kiln with another op table or attribute layout */
    KILN_MICRO_TRUNCATED,         /* fewer bytes than the header says the program has */
    KILN_MICRO_CORRUPT,           /* checksum or a record that does not fit its bounds */
    KILN_MICRO_MISALIGNED,        /* the program, the arena or the state is not 8-byte aligned */
    KILN_MICRO_ARENA_TOO_SMALL,   /* the arena is smaller than the program's arena_bytes */
    KILN_MICRO_STATE_TOO_SMALL,   /* a training program needs a state region of state_bytes */
    KILN_MICRO_CANNOT_TRAIN,      /* train_step on an inference program */
    KILN_MICRO_BAD_LABEL,         /* a label outside 0..classes-1 */
    KILN_MICRO_OUT_OF_RANGE       /* an index past the batch or the state entries */
} kiln_micro_status;

/* One sentence per status, e.g. "the arena is smaller than the program needs". */
const char* kiln_micro_status_message(kiln_micro_status status);

/* What a program needs and offers, read by kiln_micro_describe (which checks it first). */
typedef struct kiln_micro_info {
    uint32_t arena_bytes;    /* the arena to provide */
    uint32_t state_bytes;    /* the state region a training program needs (0 otherwise) */
    uint32_t lower_bound;    /* the planner's lower bound on the arena */
    uint32_t batch;
    uint32_t classes;
    uint32_t input_rank;
    int32_t input_dims[6];   /* [batch, C, H, W] for an image model */
    int trains;
    const char* model_name;
} kiln_micro_info;

kiln_micro_status kiln_micro_describe(const void* program, size_t program_bytes, kiln_micro_info* info);

typedef struct kiln_micro_model {
    const unsigned char* program;
    unsigned char* arena;
    unsigned char* state;
    int64_t step;   /* optimizer steps taken */
    float lr;       /* the learning rate of the next train step (starts at the exported one) */
} kiln_micro_model;

/* An inference program reads its weights where they are (flash): pass state = NULL. A training
   program copies its initial state into `state` (at least state_bytes). */
kiln_micro_status kiln_micro_init(kiln_micro_model* model, const void* program, size_t program_bytes, void* arena,
                                  size_t arena_bytes, void* state, size_t state_bytes);

/* The input, f32 [batch, ...] in the arena: written before every call (a call may reuse it). */
float* kiln_micro_input(kiln_micro_model* model);
/* Sample `index` of the input from u8 H×W×C pixels, as the run's eval transforms convert them. */
kiln_micro_status kiln_micro_set_pixels(kiln_micro_model* model, uint32_t index, const uint8_t* pixels);
/* A training program's labels, i64 [batch] class indices. */
int64_t* kiln_micro_labels(kiln_micro_model* model);

/* The forward pass in eval mode up to the logits (a training program's loss is not computed, its
   labels not read); then kiln_micro_output holds the logits [batch, classes]. */
kiln_micro_status kiln_micro_infer(kiln_micro_model* model);
const float* kiln_micro_output(const kiln_micro_model* model);
/* Forward, backward and the optimizer's update at model->lr; *loss (when not NULL) gets the loss. */
kiln_micro_status kiln_micro_train_step(kiln_micro_model* model, float* loss);

const char* kiln_micro_class_name(const kiln_micro_model* model, uint32_t c);

/* The named state: parameters (PyTorch state_dict names), buffers, optimizer state. */
typedef struct kiln_micro_tensor {
    const char* name;
    int kind;               /* 0 parameter, 1 buffer, 2 optimizer state */
    uint32_t rank;
    int32_t dims[6];
    int dtype;              /* 0 f32, 1 i32, 2 i64, 3 u8 (kiln::DType) */
    const void* data;
    uint32_t bytes;
} kiln_micro_tensor;
uint32_t kiln_micro_state_count(const kiln_micro_model* model);
kiln_micro_status kiln_micro_state_at(const kiln_micro_model* model, uint32_t i, kiln_micro_tensor* out);

#ifdef __cplusplus
}
#endif
#endif
