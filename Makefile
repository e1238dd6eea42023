.PHONY: demo test bench asan tsan clang format
demo test bench format:
	./run $@
asan tsan clang:
	./run test $@
