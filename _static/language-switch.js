// A link to the same page in the other edition: English pages live under book/, their Chinese twins under zh/.
const TWINS = ["intro", "01_formula", "02_channel_attention", "02b_which_channel_speaks", "02c_where_to_look",
               "03_mobilenet", "03b_where_a_gate_goes", "04a_reading_runs",
               "04_experiment_last", "05_experiment_noise",
               "06_beyond_the_post", "06b_inside_a_trained_network", "07_summary", "08_comparing_runs",
               "09_follow_up_runs", "10_engineering_notes"];

document.addEventListener("DOMContentLoaded", () => {
  const match = window.location.pathname.match(/^(.*\/)(book|zh)\/([\w-]+)[\w.-]*\.html$/);
  if (!match) return;
  const [, root, edition, page] = match;
  const chinese = edition === "zh";
  const twin = TWINS.includes(page) ? page : "intro";  // the glossary has no English twin
  const link = document.createElement("a");
  link.className = "language-switch";
  link.href = `${root}${chinese ? "book" : "zh"}/${twin}.html`;
  link.lang = chinese ? "en" : "zh";
  link.textContent = chinese ? "English" : "中文版";
  const header = document.querySelector(".article-header-buttons");
  if (header) header.prepend(link); else document.body.prepend(link);
});
