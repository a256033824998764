import jetbrains.buildServer.configs.kotlin.*
import jetbrains.buildServer.configs.kotlin.buildFeatures.commitStatusPublisher
import jetbrains.buildServer.configs.kotlin.buildFeatures.pullRequests
import jetbrains.buildServer.configs.kotlin.buildSteps.script
import jetbrains.buildServer.configs.kotlin.triggers.VcsTrigger
import jetbrains.buildServer.configs.kotlin.triggers.vcs
import jetbrains.buildServer.configs.kotlin.vcs.GitVcsRoot

/*
 * fluxgate: pull-request gate for a Flux GitOps repository on Bitbucket Server / Data Center.
 *
 * What this configures
 *   - a VCS root for the GitOps repository (the one the pull requests are opened against),
 *   - a VCS root for the fluxgate sources (built on the agent, checked out into .fluxgate-src/),
 *   - one build configuration that builds fluxgate, runs `fluxgate validate` on the repository,
 *     reports tests live as service messages, and publishes the build status back to Bitbucket.
 *     It validates only what the pull request affects (`--base` = the PR's target branch) and
 *     attaches a Markdown diff of the rendered manifests (target/fluxgate-diff.md).
 *   - TeamCity resolves %teamcity.pullRequest.target.branch% only in pull-request builds; a build
 *     of a branch without an open pull request waits for that parameter (an implicit requirement),
 *     so push a branch and open its pull request to get it gated.
 *
 * Values marked "SET ME" must be changed for your installation. Secrets are never stored here:
 * create them in TeamCity (Project Settings > Parameters, or "Generate token for a secure value"
 * under Versioned Settings > Tokens) and paste the resulting credentialsJSON:... reference.
 *
 * MERGE CHECK: the Pull Requests feature and the Commit Status Publisher only *report* to Bitbucket.
 * To block merging on a failed validation, open the Bitbucket repository's
 *   Repository settings > Required builds
 * and add this build configuration's ID (its external ID, e.g. "FluxGsf_FluxgatePrValidation": the
 * parent project's ID + "_" + the id("...") below; shown under Build Configuration Settings > General).
 * The Commit Status Publisher reports builds to Bitbucket under that ID as the build key, so the
 * names must match exactly.
 *
 * CODE INSIGHTS: the second build step publishes every finding as an annotation on its line of the
 * pull request diff, under the report key "fluxgate", with PASS/FAIL. To block merging on it as
 * well (or instead of the build), add the report key "fluxgate" as a required report in the
 * repository's Code Insights settings (Repository settings > Code Insights > Add required report,
 * "Must pass"). The token needs read access to the repository (see bitbucket.token).
 */

version = "2024.03"

project {
    // The project ID itself comes from the TeamCity project these versioned settings are attached to
    // (SET ME in the UI when enabling Versioned Settings; e.g. "FluxGsf"). It prefixes every ID below.
    description = "Pull-request validation of the flux-gsf GitOps repository with fluxgate"

    vcsRoot(GitOpsRepo)
    vcsRoot(FluxgateSource)
    buildType(FluxgatePrValidation)

    params {
        // SET ME: base URL of Bitbucket Server / Data Center (HTTPS, no trailing slash, no /scm path).
        param("bitbucket.url", "https://bitbucket.gsf.example.com")
        // SET ME: the Bitbucket service account that publishes build statuses and reads pull requests.
        // It needs REPO_READ on the GitOps repository.
        param("bitbucket.username", "svc-teamcity")
        // SET ME: an HTTP access token of that account (repository read). Generate a credentialsJSON
        // reference for it in TeamCity and paste it here; never paste the token itself.
        password("bitbucket.token", "credentialsJSON:00000000-0000-0000-0000-000000000000",
            label = "Bitbucket HTTP access token", display = ParameterDisplay.HIDDEN)
        // SET ME (optional): the Rust toolchain installed when the agent has none.
        param("rust.toolchain", "stable")
        // SET ME: the GitOps repository's Bitbucket project key and repository slug (from its URL,
        // .../projects/<KEY>/repos/<slug>/browse): where the Code Insights report is published.
        param("bitbucket.project", "PLAT")
        param("bitbucket.repo", "flux-gsf")
        // SET ME (optional): where the rules are documented; each annotation links to <url>#<rule-id>
        // (docs/rules.md has one section per rule id).
        param("fluxgate.rules.url", "https://bitbucket.gsf.example.com/projects/PLAT/repos/fluxgate/browse/docs/rules.md")
    }
}

object GitOpsRepo : GitVcsRoot({
    name = "flux-gsf (GitOps repository)"
    // SET ME: the SSH clone URL of the GitOps repository (Bitbucket: Clone > SSH).
    url = "ssh://git@bitbucket.gsf.example.com:7999/plat/flux-gsf.git"
    // SET ME: the repository's default branch (the branch the Flux GitRepository objects track).
    branch = "refs/heads/main"
    // All branches. The Pull Requests feature (below) adds pull-request information to the source
    // branches of open pull requests; do not add refs/pull-requests/* here (the feature forbids
    // branch specs that overlap its own branches).
    branchSpec = "+:refs/heads/*"
    checkoutPolicy = GitVcsRoot.AgentCheckoutPolicy.USE_MIRRORS
    authMethod = uploadedKey {
        // SET ME: name of an SSH key uploaded to this project (Project Settings > SSH Keys) whose public
        // half is an access key with read permission on the Bitbucket repository.
        uploadedKey = "teamcity-flux-gsf"
    }
})

object FluxgateSource : GitVcsRoot({
    name = "fluxgate (tool sources)"
    // SET ME: where your copy of the fluxgate sources lives.
    url = "ssh://git@bitbucket.gsf.example.com:7999/plat/fluxgate.git"
    // SET ME: pin the gate to a release branch or tag so PR results do not change under you.
    branch = "refs/heads/main"
    authMethod = uploadedKey {
        // SET ME: as above (may be the same key).
        uploadedKey = "teamcity-flux-gsf"
    }
})

object FluxgatePrValidation : BuildType({
    // The build configuration ID. Bitbucket's "Required builds" merge check must list the full
    // external ID (<project id>_FluxgatePrValidation), see the note at the top of this file.
    id("FluxgatePrValidation")
    name = "fluxgate: validate pull request"
    description = "Renders every kustomize overlay and Flux Kustomization and checks schemas and policies"

    // The report is only read from files written during this build, so it is safe to publish it
    // as an artifact too (useful for the HTML/JSON formats later).
    // The JUnit file (for tools that want it; not imported, see the xmlReport note below) and the
    // Markdown diff of what the pull request changes in the rendered manifests, for reviewers.
    artifactRules = """
        target/fluxgate-junit.xml
        target/fluxgate-diff.md
        target/fluxgate-insights.json
    """.trimIndent()

    params {
        // The token of the Code Insights step, as an environment variable (never a command-line
        // flag). A password parameter: TeamCity masks it in the build log.
        password("env.BITBUCKET_TOKEN", "%bitbucket.token%", display = ParameterDisplay.HIDDEN)
    }

    vcs {
        // The GitOps repository is the checkout root: `fluxgate validate .` sees exactly the
        // repository contents, with paths in reports relative to it.
        root(GitOpsRepo)
        // fluxgate's sources go into a hidden directory; list it (and target/) under `ignore` in the
        // repository's .fluxgate.yaml so they are not scanned as manifests.
        root(FluxgateSource, "+:. => .fluxgate-src")
        cleanCheckout = false
    }

    steps {
        script {
            name = "Build fluxgate and validate the repository"
            // Exit codes of fluxgate: 0 = no error findings, 1 = error findings (fails the build),
            // 2 = fluxgate could not run (also fails the build). `set -e` passes them through.
            scriptContent = """
                #!/usr/bin/env bash
                set -euo pipefail

                # Install a Rust toolchain only when the agent has none (agents with a system-wide
                # rustup keep theirs).
                if ! command -v cargo >/dev/null 2>&1; then
                    if [ ! -x "${'$'}HOME/.cargo/bin/cargo" ]; then
                        echo "cargo not found: installing Rust (%rust.toolchain%) with rustup"
                        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
                            | sh -s -- -y --profile minimal --default-toolchain "%rust.toolchain%"
                    fi
                    export PATH="${'$'}HOME/.cargo/bin:${'$'}PATH"
                fi
                cargo --version

                # Build with the committed Cargo.lock, in the CI profile (fat LTO, one codegen unit,
                # stripped: Cargo.toml [profile.dist]); the binary lands in ./target/dist/fluxgate.
                cargo build --profile dist --locked \
                    --manifest-path .fluxgate-src/Cargo.toml \
                    --target-dir target

                # Check only the entry points the pull request affects: --base takes the merge-base of
                # the PR's target branch (TeamCity's Pull Requests feature sets the configuration
                # parameter teamcity.pullRequest.target.branch, e.g. "main"; %...% is substituted
                # before the script runs). The agent checkout may not have that branch: fetch it.
                target="%teamcity.pullRequest.target.branch%"
                target="${'$'}{target#refs/heads/}"
                git fetch --no-tags --quiet origin "+refs/heads/${'$'}target:refs/remotes/origin/${'$'}target"

                # --format teamcity streams one test per object as service messages, so results
                # show up live; the JUnit file is only an artifact (see the xmlReport note below).
                target/dist/fluxgate validate . \
                    --base "origin/${'$'}target" \
                    --format teamcity \
                    --junit target/fluxgate-junit.xml \
                    --diff-markdown target/fluxgate-diff.md \
                    --bitbucket-insights target/fluxgate-insights.json \
                    --insights-link "%teamcity.serverUrl%/viewLog.html?buildId=%teamcity.build.id%" \
                    --insights-rules-url "%fluxgate.rules.url%"
            """.trimIndent()
        }
        script {
            name = "Publish findings to the pull request (Bitbucket Code Insights)"
            // Runs also when validation found errors (exit 1), so the pull request shows them on
            // their lines; skipped when fluxgate could not write the report.
            executionMode = BuildStep.ExecutionMode.ALWAYS
            // build.vcs.number.<VCS root ID> is the commit of the GitOps repository this build
            // checked out: the pull request's source commit, which Bitbucket shows insights for.
            scriptContent = """
                #!/usr/bin/env bash
                set -euo pipefail
                if [ ! -f target/fluxgate-insights.json ]; then
                    echo "no Code Insights report was written (fluxgate could not run): nothing to publish"
                    exit 0
                fi
                target/dist/fluxgate publish bitbucket-insights target/fluxgate-insights.json \
                    --server "%bitbucket.url%" \
                    --project "%bitbucket.project%" \
                    --repo "%bitbucket.repo%" \
                    --commit "%build.vcs.number.${GitOpsRepo.id}%"
            """.trimIndent()
        }
    }

    triggers {
        vcs {
            // The Pull Requests feature does not start builds; this trigger does. It fires for the
            // source branches of pull requests (and any other branch pushed), but not for the
            // default branch, which Flux itself reconciles.
            branchFilter = """
                +:*
                -:<default>
            """.trimIndent()
            // Wait for a quiet period so a burst of pushes yields one build.
            quietPeriodMode = VcsTrigger.QuietPeriodMode.USE_CUSTOM
            quietPeriod = 30
        }
    }

    failureConditions {
        // Any non-zero exit code fails the build (fluxgate exits 1 on error findings).
        nonZeroExitCode = true
        // Failed tests (reported by fluxgate's service messages) also fail the build.
        testFailure = true
        executionTimeoutMin = 30
    }

    features {
        pullRequests {
            vcsRootExtId = "${GitOpsRepo.id}"
            provider = bitbucketServer {
                serverUrl = "%bitbucket.url%"
                authType = password {
                    username = "%bitbucket.username%"
                    password = "%bitbucket.token%"
                }
                // SET ME: only pull requests into the default branch are gated. Branch filters here
                // take fully qualified ref names.
                filterTargetBranch = "+:refs/heads/main"
            }
        }

        commitStatusPublisher {
            vcsRootExtId = "${GitOpsRepo.id}"
            publisher = bitbucketServer {
                url = "%bitbucket.url%"
                authType = password {
                    userName = "%bitbucket.username%"
                    password = "%bitbucket.token%"
                }
            }
        }

        // No XML Report Processing feature on purpose: `--format teamcity` already reports every
        // test through service messages (live, while the run goes on). Importing
        // target/fluxgate-junit.xml as well would report the same tests twice and double every
        // count and failure. To use JUnit import instead (e.g. on an older agent), drop
        // `--format teamcity` from the script and add:
        //     xmlReport {
        //         reportType = XmlReport.XmlReportType.JUNIT
        //         rules = "+:target/fluxgate-junit.xml"
        //     }
    }

    requirements {
        // SET ME if your Linux agents are labelled differently.
        equals("teamcity.agent.jvm.os.family", "Linux")
    }
})
