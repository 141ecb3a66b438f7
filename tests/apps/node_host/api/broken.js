// Fails at init (module scope): the host exits 1 naming the file and the app's frame.
const settings = JSON.parse(process.env.BROKEN_SETTINGS ?? "{");
module.exports = (req, res) => res.json(settings);
