#define BOOST_TEST_MODULE corodb
#include <boost/test/unit_test.hpp>
