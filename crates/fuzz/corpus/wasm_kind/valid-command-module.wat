;; A WASI preview1 command: a core module exporting `_start`.
(module
  (memory (export "memory") 1)
  (func (export "_start")))
