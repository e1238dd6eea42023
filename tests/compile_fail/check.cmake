# Compiles one compile-fail program and checks the outcome.
#
#   cmake -DCOMPILER=<c++> -DSOURCE=<file.cpp> -DINCLUDE=<dir> [-DDEFINE=<NAME>]
#         -DEXPECT=fail|ok [-DACTOR=<type> -DMESSAGE=<type>] -P check.cmake
#
# EXPECT=ok: the program must compile (the control that proves the include
# path and the valid part are fine). EXPECT=fail: it must not compile, and the
# first line of the compiler output that contains "error" must name both ACTOR
# and MESSAGE.

foreach(var COMPILER SOURCE INCLUDE EXPECT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check.cmake: ${var} is not set")
  endif()
endforeach()

set(args -std=c++20 -fsyntax-only -I${INCLUDE})
if(DEFINE)
  list(APPEND args -D${DEFINE})
endif()
execute_process(
  COMMAND ${COMPILER} ${args} ${SOURCE}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)

if(EXPECT STREQUAL "ok")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "expected ${SOURCE} to compile, it did not:\n${out}")
  endif()
  message(STATUS "compiled as expected")
  return()
endif()

if(rc EQUAL 0)
  message(FATAL_ERROR "expected ${SOURCE} (${DEFINE}) not to compile, but it did")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(first "")
foreach(line IN LISTS lines)
  if(line MATCHES "error")
    set(first "${line}")
    break()
  endif()
endforeach()
if(first STREQUAL "")
  message(FATAL_ERROR "the compiler failed without an error line:\n${out}")
endif()
foreach(name IN ITEMS ${ACTOR} ${MESSAGE})
  string(FIND "${first}" "${name}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the first error line does not name '${name}':\n  ${first}\nfull output:\n${out}")
  endif()
endforeach()
message(STATUS "first error line names ${ACTOR} and ${MESSAGE}:\n  ${first}")
