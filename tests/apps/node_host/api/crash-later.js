// Answers, then throws from a timer: an exception outside any handler. It is reported, then
// Node's own behaviour follows: the process exits (the platform sees the instance die).
module.exports = (req, res) => {
  res.end("bye");
  setTimeout(() => {
    throw new TypeError("late crash");
  }, 20);
};
