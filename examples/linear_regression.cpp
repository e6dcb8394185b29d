// The course's PyTorch workflow: learn the straight line y = 0.7x + 0.3 with a one-feature
// nn.Linear, an L1 loss and plain SGD; then save the weights, load them into a freshly built model
// and check that it predicts exactly what the trained one does.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common.h"
#include "kiln/data/synthetic.h"
#include "kiln/runtime/program.h"
#include "kiln/io/checkpoint.h"
#include "kiln/nn/layers.h"

using namespace kiln;

namespace {

constexpr float true_weight = 0.7f, true_bias = 0.3f;

// The course's LinearRegressionModelV2: one nn.Linear(1, 1) named linear_layer.
struct Model {
    Graph graph;
    Value x, y, pred, loss;
    Model(uint64_t seed, int64_t batch) : graph(seed) {
        x = graph.input("x", {batch, 1});
        y = graph.input("y", {batch, 1});
        pred = nn::linear(graph, "linear_layer", x, 1);
        loss = graph.l1_loss(pred, y);
    }
};

float state_value(const Program& prog, const char* name) {
    float v = 0;
    prog.read_state(*prog.find_state(name), &v);
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    example::Args args;
    if (int status = 0; !example::parse_args(argc, argv, args, status)) return status;
    try {
        // 50 points of y = 0.7x + 0.3 on [0, 1), read through the synthetic plugin; the first 40
        // train and the last 10 test (the course splits without shuffling).
        auto [train, test] = data::train_test_split(
            example::load<float>("synthetic:line,weight=0.7,bias=0.3,start=0,end=1,step=0.02"), 0.2, 0, /*shuffle=*/false);
        const int64_t n_train = train.size(), n_test = test.size();

        Model m(args.seed, n_train);
        CompileOptions opt;
        opt.loss = m.loss;
        opt.optimizer = SGD{.lr = 0.01f};
        opt.outputs = {m.pred};
        auto prog = compile(m.graph, opt);
        std::printf("memory: %s", prog->memory_report().c_str());
        std::printf("initial: weight %.4f, bias %.4f\n", state_value(*prog, "linear_layer.weight"),
                    state_value(*prog, "linear_layer.bias"));

        for (int epoch = 0; epoch < 1000; ++epoch) {
            prog->write_input(m.x, train.x.data(), n_train);
            prog->write_input(m.y, train.y.data(), n_train);
            float train_loss = prog->train_step(n_train);
            if (epoch % 100 == 0) {
                prog->write_input(m.x, test.x.data(), n_test);
                prog->write_input(m.y, test.y.data(), n_test);
                prog->forward(n_test);
                std::printf("Epoch: %3d | MAE train loss: %.6f | MAE test loss: %.6f\n", epoch, train_loss, prog->loss());
            }
        }
        float weight = state_value(*prog, "linear_layer.weight"), bias = state_value(*prog, "linear_layer.bias");
        std::printf("learned: weight %.4f (true %.1f), bias %.4f (true %.1f)\n", weight, true_weight, bias, true_bias);

        // Predictions of the trained model on the test set.
        prog->write_input(m.x, test.x.data(), n_test);
        prog->write_input(m.y, test.y.data(), n_test);
        prog->forward(n_test);
        std::vector<float> trained = prog->read(m.pred);

        // Save, then load into a model built from another seed (other initial weights) and
        // compiled for inference at the test batch.
        std::filesystem::create_directories(args.out_dir);
        std::string path = (std::filesystem::path(args.out_dir) / "linear_regression.safetensors").string();
        io::save_state(*prog, path);
        Model fresh(args.seed + 1, n_test);
        CompileOptions infer_opt;
        infer_opt.outputs = {fresh.pred};
        auto infer = compile(fresh.graph, infer_opt);
        std::printf("memory (inference): %s", infer->memory_report().c_str());
        io::load_state(*infer, path);
        infer->write_input(fresh.x, test.x.data(), n_test);
        infer->forward(n_test);
        std::vector<float> reloaded = infer->read(fresh.pred);

        std::printf("saved to %s; predictions on the test set:\n", path.c_str());
        std::printf("     x   trained  reloaded   target\n");
        for (int64_t i = 0; i < n_test; ++i)
            std::printf("  %.2f  %.6f  %.6f  %.6f\n", test.x[i], trained[i], reloaded[i], test.y[i]);
        bool identical = trained.size() == reloaded.size() &&
                         std::memcmp(trained.data(), reloaded.data(), trained.size() * sizeof(float)) == 0;
        bool learned = std::fabs(weight - true_weight) <= 0.01f && std::fabs(bias - true_bias) <= 0.01f;
        std::printf("result: weight=%.6f bias=%.6f reload_identical=%s\n", weight, bias, identical ? "yes" : "no");
        if (!learned) std::printf("target missed: weight and bias must be within 0.01 of %.1f and %.1f\n", true_weight, true_bias);
        if (!identical) std::printf("target missed: the reloaded model predicts differently\n");
        return learned && identical ? 0 : 1;
    } catch (const std::exception& e) {  // kiln::Error, or the file system's
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
}
