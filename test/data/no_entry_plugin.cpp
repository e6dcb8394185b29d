// A shared object named like a plugin that exports no kiln_plugin_entry: the registry must report
// it (with dlsym's message), not ignore it.
extern "C" __attribute__((visibility("default"))) int not_a_kiln_plugin(void) { return 42; }
