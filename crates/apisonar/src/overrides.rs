//! `apisonar template pin|unpin|list`: user overrides of path templating, kept in the store.

use anyhow::{bail, Result};
use apisonar_app::{Command, Outcome};
use apisonar_store::{SledOptions, SledStore, Store, TemplateOverride};

use crate::cli::{TemplateArgs, TemplateCommand, TemplateListArgs};
use crate::terminal::shown;

/// A template must be a path: segments, with parameters as whole `{name}` segments.
fn check_template(t: &str) -> Result<()> {
    if !t.starts_with('/') || t.len() > 2048 {
        bail!("a template is a path starting with '/': {t:?}");
    }
    for seg in t.split('/').filter(|s| !s.is_empty()) {
        let opens = seg.matches('{').count();
        let closes = seg.matches('}').count();
        let whole = seg.starts_with('{') && seg.ends_with('}') && opens == 1 && closes == 1 && seg.len() > 2;
        if (opens > 0 || closes > 0) && !whole {
            bail!("parameters must be whole segments like {{name}}: {seg:?} in {t:?}");
        }
    }
    Ok(())
}

fn open(db: &std::path::Path) -> Result<SledStore> {
    Ok(SledStore::open(db, &SledOptions::default())?)
}

pub fn run(cmd: &TemplateCommand) -> Result<u8> {
    match cmd {
        TemplateCommand::Pin(args) => pin(args),
        TemplateCommand::Unpin(args) => unpin(args),
        TemplateCommand::List(args) => list(args),
    }
}

fn core(db: &std::path::Path) -> Result<apisonar_app::Core> {
    crate::store::open_core(db, apisonar_app::CoreOptions::default(), None)
}

fn pin(args: &TemplateArgs) -> Result<u8> {
    check_template(&args.template)?;
    let rule = TemplateOverride { host: args.host.clone(), template: args.template.clone() };
    let mut core = core(&args.db)?;
    let outcome = core.execute(Command::Pin(rule))?;
    core.finish()?;
    let folded = match outcome {
        Outcome::Pinned(n) => n,
        _ => 0,
    };
    println!("pinned {} ({folded} stored endpoints now follow it)", shown(&args.template));
    Ok(0)
}

fn unpin(args: &TemplateArgs) -> Result<u8> {
    let rule = TemplateOverride { host: args.host.clone(), template: args.template.clone() };
    let mut core = core(&args.db)?;
    let outcome = core.execute(Command::Unpin(rule))?;
    core.finish()?;
    if outcome != Outcome::Removed(true) {
        bail!(
            "{} is not pinned{}",
            args.template,
            args.host.as_deref().map(|h| format!(" for {h}")).unwrap_or_default()
        );
    }
    println!("unpinned {}", shown(&args.template));
    Ok(0)
}

fn list(args: &TemplateListArgs) -> Result<u8> {
    let store = open(&args.db)?;
    for o in store.overrides()? {
        println!("{}\t{}", shown(o.host.as_deref().unwrap_or("*")), shown(&o.template));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::check_template;

    #[test]
    fn templates_are_checked() {
        assert!(check_template("/repos/{owner}/{repo}").is_ok());
        assert!(check_template("/users/me").is_ok());
        assert!(check_template("users").is_err());
        assert!(check_template("/a/{b").is_err());
        assert!(check_template("/a/x{b}").is_err());
        assert!(check_template("/a/{}").is_err());
    }
}
