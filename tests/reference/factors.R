# Reference values for tests/test_factors.py (evalkit.factors.logistic and evalkit.factors.gee),
# computed by R's glm and geepack::geeglm.
#   Rscript tests/reference/factors.R [out_dir]     (from the project root; R >= 4, geepack >= 1.3)
# reads
#   factors_data_family.csv  one row per family: the analysis frame of evalkit.factors.frame(outcome =
#                            "closure", unit = "family") for a small synthetic population
#                            (evalkit.synth_model.simulate(demo_config(families = 700, seed = 7)),
#                            its truth tables), complete cases, family ids replaced by integers
#   factors_data_child.csv   the same population at unit = "child" (children clustered in families,
#                            rows sorted by family as geeglm requires)
# writes (to out_dir, default tests/reference)
#   factors_glm.csv          per data set (family, child) and term: coef, se (model-based)
#   factors_gee.csv          per working correlation (exchangeable, independence) and term: coef,
#                            se (robust sandwich), and the estimated correlation alpha
# The term names are evalkit's: "prior_removal", "housing_at_intake[none]", ...
# Convergence is tightened far past the defaults (glm 1e-8, geese 1e-4) so that the comparison
# measures the methods, not where each stopped.
suppressPackageStartupMessages(library(geepack))
args <- commandArgs(trailingOnly = TRUE)
ref <- "tests/reference"
out <- if (length(args) >= 1) args[1] else ref

read_frame <- function(unit) {
  d <- read.csv(file.path(ref, sprintf("factors_data_%s.csv", unit)), stringsAsFactors = FALSE)
  d$housing_at_intake <- relevel(factor(d$housing_at_intake), ref = "own")
  d$case_type <- relevel(factor(d$case_type), ref = "ordinary")
  d
}
f <- adverse ~ prior_removal + parent_mental_illness + parent_substance_use + no_registration +
  housing_at_intake + case_type + crisis_centre

evalkit_terms <- function(names) {
  for (v in c("housing_at_intake", "case_type")) {
    hit <- startsWith(names, v)
    names[hit] <- sprintf("%s[%s]", v, substring(names[hit], nchar(v) + 1))
  }
  names
}

glm_rows <- do.call(rbind, lapply(c("family", "child"), function(unit) {
  m <- glm(f, data = read_frame(unit), family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100))
  s <- summary(m)$coefficients
  data.frame(data = unit, term = evalkit_terms(rownames(s)), coef = s[, 1], se = s[, 2])
}))

kids <- read_frame("child")
gee_rows <- do.call(rbind, lapply(c("exchangeable", "independence"), function(cs) {
  m <- geeglm(f, id = family, data = kids, family = binomial, corstr = cs,
              control = geese.control(epsilon = 1e-12, maxit = 200))
  s <- summary(m)$coefficients
  alpha <- if (cs == "exchangeable") summary(m)$corr[1, "Estimate"] else 0
  data.frame(corstr = cs, term = evalkit_terms(rownames(s)), coef = s[, "Estimate"], se = s[, "Std.err"],
             alpha = alpha)
}))

write.csv(glm_rows, file.path(out, "factors_glm.csv"), row.names = FALSE)
write.csv(gee_rows, file.path(out, "factors_gee.csv"), row.names = FALSE)
options(digits = 12)
print(glm_rows, row.names = FALSE)
print(gee_rows, row.names = FALSE)
