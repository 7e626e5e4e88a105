// Catch2 v2 (Debian 12) and v3 (GPU machine) behind one include.
#pragma once
#ifdef ELECTRA_CATCH_V3
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
using Catch::Approx;
#else
#include <catch2/catch.hpp>
#endif
