include_guard(GLOBAL)

# troupe_add_component(<name> [DEPS <target>...] [TEST_DEPS <target>...])
#
# Builds the *.cpp files of the calling directory (except *.test.cpp) into
# troupe_<name> (alias troupe::<name>; an INTERFACE library when there are
# none), and the *.test.cpp files into troupe_<name>_tests, registered with
# ctest as <name>.<Suite>.<Test>. The library is installed and exported as
# troupe::<name> (cmake/troupe_install.cmake).
function(troupe_add_component name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "DEPS;TEST_DEPS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "troupe_add_component(${name}): unexpected ${arg_UNPARSED_ARGUMENTS}")
  endif()

  set(dir ${CMAKE_CURRENT_SOURCE_DIR})
  file(GLOB sources CONFIGURE_DEPENDS ${dir}/*.cpp)
  file(GLOB tests CONFIGURE_DEPENDS ${dir}/*.test.cpp)
  list(FILTER sources EXCLUDE REGEX "\\.test\\.cpp$")

  set(lib troupe_${name})
  if(sources)
    add_library(${lib} STATIC ${sources})
    set(scope PUBLIC)
  else()
    add_library(${lib} INTERFACE)
    set(scope INTERFACE)
  endif()
  add_library(troupe::${name} ALIAS ${lib})
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(${lib} ${scope} $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
                             $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${lib} ${scope} ${arg_DEPS} Threads::Threads)
  set_property(GLOBAL APPEND PROPERTY TROUPE_INSTALLED_TARGETS ${lib})

  if(tests)
    add_executable(${lib}_tests ${tests})
    target_link_libraries(${lib}_tests PRIVATE
      ${lib} ${arg_TEST_DEPS} GTest::gtest_main GTest::gmock)
    gtest_discover_tests(${lib}_tests
      TEST_PREFIX ${name}.
      DISCOVERY_TIMEOUT 120
      PROPERTIES TIMEOUT 300)
  endif()
endfunction()

# troupe_add_example(<name> [SOURCES] <source>... [DEPS <target>...])
#
# Builds executable <name> linked to troupe::core and troupe::sim, and
# registers it as the ctest test example.<name>, which passes when it exits 0.
function(troupe_add_example name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;DEPS")
  add_executable(${name} ${arg_SOURCES} ${arg_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE troupe::core troupe::sim ${arg_DEPS})
  add_test(NAME example.${name} COMMAND ${name})
  set_tests_properties(example.${name} PROPERTIES TIMEOUT 300)
endfunction()
