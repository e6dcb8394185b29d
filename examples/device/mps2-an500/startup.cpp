// Reset for the mps2-an500 board (Cortex-M7) under QEMU: the vector table QEMU boots from (initial
// stack pointer, reset handler), then .data copied from flash, .bss zeroed, the FPU enabled before
// any float instruction, the stack painted (so a firmware can measure its high-water mark),
// semihosting opened for stdio, static constructors, main, and exit with main's value (QEMU's exit
// status). rdimon's own crt0 is not used: it would move the stack to wherever the debugger's heap
// information says, outside the 256 KiB the linker script gives.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "board.h"

extern "C" {
extern uint32_t __data_start, __data_end, __data_load, __bss_start__, __bss_end__, __stack_limit, __stack_top;
void initialise_monitor_handles();  // librdimon: semihosting file handles for stdio
void __libc_init_array();           // newlib: static constructors
void* sbrk(ptrdiff_t increment);     // newlib: the heap's end (its unistd.h hides it in C++)
[[noreturn]] void exit(int);
int main();
[[noreturn]] void reset_handler();
[[noreturn]] void fault_handler();
}

namespace {
constexpr uint32_t stack_paint = 0xC0FFEE11u;
}

extern "C" [[noreturn]] void reset_handler() {
    std::memcpy(&__data_start, &__data_load, size_t(reinterpret_cast<char*>(&__data_end) - reinterpret_cast<char*>(&__data_start)));
    std::memset(&__bss_start__, 0, size_t(reinterpret_cast<char*>(&__bss_end__) - reinterpret_cast<char*>(&__bss_start__)));
    volatile uint32_t* cpacr = reinterpret_cast<volatile uint32_t*>(0xE000ED88u);
    *cpacr |= 0xFu << 20;  // CP10, CP11: full access to the FPU
    asm volatile("dsb\n isb");
    // Paint the stack below the current frame (the reset handler's own few words stay untouched).
    uint32_t* sp;
    asm volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t* p = &__stack_limit; p < sp - 16; ++p) *p = stack_paint;
    initialise_monitor_handles();
    __libc_init_array();
    exit(main());
}

extern "C" [[noreturn]] void fault_handler() {
    for (;;) {
    }
}

size_t board::stack_high_water_bytes() {
    const uint32_t* p = &__stack_limit;
    while (p < &__stack_top && *p == stack_paint) ++p;
    return size_t(reinterpret_cast<const char*>(&__stack_top) - reinterpret_cast<const char*>(p));
}

// Initial stack pointer, then the handlers: reset, NMI, HardFault, MemManage, BusFault, UsageFault.
__attribute__((section(".vectors"), used)) const void* const vector_table[] = {
    &__stack_top,
    reinterpret_cast<const void*>(&reset_handler),
    reinterpret_cast<const void*>(&fault_handler),
    reinterpret_cast<const void*>(&fault_handler),
    reinterpret_cast<const void*>(&fault_handler),
    reinterpret_cast<const void*>(&fault_handler),
    reinterpret_cast<const void*>(&fault_handler),
};

size_t board::static_ram_bytes() {
    return size_t(static_cast<char*>(sbrk(0)) - reinterpret_cast<char*>(&__data_start));
}
