// Per-op checks driven by op_cases.h:
// - gradients against central finite differences (reference backend, small shapes);
// - the fast CPU kernels against the reference kernels on random inputs (larger shapes), forward
//   values and every gradient.
#define BOOST_TEST_MODULE ops
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "kiln/runtime/program.h"
#include "op_cases.h"

using namespace kiln;
using kiln::testing::OpCase;

namespace {

struct Built {
    Graph g;
    std::vector<Value> params;
    Value y, loss;
};

// y = op(params); loss = sum(y * w) with a fixed random w, so every output element matters.
Built build(const OpCase& c, const std::vector<Shape>& shapes, uint64_t seed) {
    Built b{Graph(seed), {}, {}, {}};
    for (size_t i = 0; i < shapes.size(); ++i) {
        std::vector<float> init(shapes[i].numel());
        for (float& v : init) v = c.shape_value(b.g.rng().uniform(-1.0f, 1.0f));
        b.params.push_back(b.g.param("p" + std::to_string(i), shapes[i], init));
    }
    b.y = c.build(b.g, b.params);
    const Shape ys = b.g.shape(b.y);
    std::vector<uint8_t> w(ys.numel() * sizeof(float));
    for (int64_t i = 0; i < ys.numel(); ++i) reinterpret_cast<float*>(w.data())[i] = b.g.rng().uniform(0.5f, 1.5f);
    b.loss = b.g.sum(b.g.mul(b.y, b.g.buffer("w", ys, DType::f32, w)));
    return b;
}

std::unique_ptr<Program> compile_for(Built& b, bool reference, int threads) {
    CompileOptions o;
    o.loss = b.loss;
    o.outputs = {b.y};
    o.gradients = b.params;
    o.backend_options.reference = reference;
    o.backend_options.threads = threads;
    o.seed = 7;
    return compile(b.g, o);
}

std::vector<OpCase> cases = kiln::testing::op_cases();
std::vector<std::string> names() {
    std::vector<std::string> n;
    for (auto& c : cases) n.push_back(c.name);
    return n;
}
const OpCase& find(const std::string& name) {
    for (auto& c : cases)
        if (c.name == name) return c;
    throw std::runtime_error("no case " + name);
}

}  // namespace

BOOST_DATA_TEST_CASE(gradient_matches_finite_differences, boost::unit_test::data::make(names()), name) {
    const OpCase& c = find(name);
    Built b = build(c, c.small, 1);
    auto prog = compile_for(b, /*reference=*/true, 1);
    prog->train_step(1);  // forward + backward in train mode (no optimizer: parameters unchanged)
    std::vector<std::vector<float>> grads;  // read before the forward calls below reuse the arena
    for (Value p : b.params) grads.push_back(prog->read(prog->grad(p)));
    const float h = 1e-3f;
    for (size_t k = 0; k < b.params.size(); ++k) {
        const std::vector<float>& analytic = grads[k];
        const StateEntry* e = prog->find_state("p" + std::to_string(k));
        std::vector<float> p(e->bytes / 4);
        prog->read_state(*e, p.data());
        for (size_t i = 0; i < p.size(); ++i) {
            const float saved = p[i];
            auto loss_at = [&](float v) {
                p[i] = v;
                prog->write_state(*e, p.data());
                prog->forward(1, /*training=*/true);  // same dropout mask as the step
                return double(prog->loss());
            };
            const double numeric = (loss_at(saved + h) - loss_at(saved - h)) / (2.0 * double(h));
            p[i] = saved;
            prog->write_state(*e, p.data());
            BOOST_TEST_CONTEXT(name << " operand " << k << " element " << i) {
                BOOST_TEST(std::abs(analytic[i] - numeric) <= 5e-3 + 1e-2 * std::abs(numeric),
                           "analytic " << analytic[i] << " vs numeric " << numeric);
            }
        }
    }
}

// Fast (SIMD, 2 threads) vs reference (scalar, 1 thread): |fast − ref| ≤ 1e-4 + 1e-4·|ref|.
// The kernels reorder float sums (GEMM blocking, vector lanes), so equality is not expected; 1e-4
// is far below any real error (a wrong index or a missed tail element is off by O(1)).
BOOST_DATA_TEST_CASE(fast_kernels_match_reference, boost::unit_test::data::make(names()), name) {
    const OpCase& c = find(name);
    Built b = build(c, c.large, 2);
    auto ref = compile_for(b, true, 1);
    auto fast = compile_for(b, false, 2);
    const float lr = ref->train_step(1), lf = fast->train_step(1);
    BOOST_TEST(std::abs(lr - lf) <= 1e-3 + 1e-4 * std::abs(lr));
    auto compare = [&](Value v, const char* what) {
        std::vector<float> r = ref->read(v), f = fast->read(v);
        BOOST_REQUIRE(r.size() == f.size());
        size_t bad = 0;
        double worst = 0;
        for (size_t i = 0; i < r.size(); ++i) {
            double err = std::abs(double(r[i]) - f[i]);
            if (!(err <= 1e-4 + 1e-4 * std::abs(r[i]))) ++bad;
            worst = std::max(worst, err);
        }
        BOOST_TEST(bad == 0u, name << " " << what << ": " << bad << " of " << r.size() << " elements differ, worst " << worst);
    };
    compare(b.y, "output");
    for (Value p : b.params) compare(ref->grad(p), "gradient");
}
