// A Boost.Test precondition result that also prints "skipped <test>: <reason>" on stdout when it
// fails: Boost reports skipped tests only from --log_level=test_suite up, which meson test does
// not ask for, and a skipped check should say so in the test log.
#pragma once
#include <boost/test/framework.hpp>
#include <boost/test/tools/assertion_result.hpp>
#include <boost/test/tree/test_unit.hpp>
#include <cstdio>
#include <string>

inline boost::test_tools::assertion_result run_if(bool ok, boost::unit_test::test_unit_id id, const std::string& reason) {
    boost::test_tools::assertion_result r(ok);
    if (!ok) {
        std::printf("skipped %s: %s\n", boost::unit_test::framework::get(id, boost::unit_test::TUT_ANY).p_name->c_str(),
                    reason.c_str());
        r.message() << reason;
    }
    return r;
}
