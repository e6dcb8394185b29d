// What the device checks ask of their board, on Linux (a static program under qemu-user or on a
// board): the process has no fixed RAM to account for, so the figures are the firmware's only.
#pragma once
#include <cstddef>

namespace board {
inline size_t stack_high_water_bytes() { return 0; }  // not measured on Linux
inline size_t static_ram_bytes() { return 0; }        // not measured on Linux
}  // namespace board
