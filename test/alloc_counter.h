// Counts every call of the global operator new in a test program, so a test can show that a
// training step, an inference call or a loader epoch allocates nothing:
//   const long before = kiln::testing::allocations();  ...  BOOST_TEST(kiln::testing::allocations() == before);
// It replaces the global allocation functions, so include it in exactly one source of a test
// executable. (GCC cannot tell that these replacements pair malloc with free, and would warn.)
#pragma once
#include <atomic>
#include <cstdlib>
#include <new>

namespace kiln::testing {
inline std::atomic<long> allocation_counter{0};
inline long allocations() { return allocation_counter.load(std::memory_order_relaxed); }
inline void* counted_alloc(std::size_t n, std::size_t align) {
    allocation_counter.fetch_add(1, std::memory_order_relaxed);
    if (n == 0) n = 1;
    return align <= alignof(std::max_align_t) ? std::malloc(n) : std::aligned_alloc(align, (n + align - 1) / align * align);
}
}  // namespace kiln::testing

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
    if (void* p = kiln::testing::counted_alloc(n, 0)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return kiln::testing::counted_alloc(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return kiln::testing::counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
    if (void* p = kiln::testing::counted_alloc(n, static_cast<std::size_t>(a))) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop
