;; A command importing a function no host provides.
(module
  (import "env" "launch_missiles" (func $boom))
  (func (export "_start") call $boom))
