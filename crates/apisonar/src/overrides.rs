//! `apisonar template pin|unpin|list`: user overrides of path templating, kept in the store.

use anyhow::{bail, Context, Result};
use apisonar_engine::{Catalog, TemplateConfig};
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

fn pin(args: &TemplateArgs) -> Result<u8> {
    check_template(&args.template)?;
    let store = open(&args.db)?;
    let o = TemplateOverride { host: args.host.clone(), template: args.template.clone() };
    store.add_override(&o)?;
    let mut catalog = Catalog::new(TemplateConfig::default());
    catalog.load(store.endpoints().context("cannot read the inventory")?);
    let folded = catalog.pin(o.host.as_deref(), &o.template);
    store.apply(&catalog.take_changes())?;
    store.flush()?;
    println!("pinned {} ({folded} stored endpoints now follow it)", o.template);
    Ok(0)
}

fn unpin(args: &TemplateArgs) -> Result<u8> {
    let store = open(&args.db)?;
    let o = TemplateOverride { host: args.host.clone(), template: args.template.clone() };
    if !store.remove_override(&o)? {
        bail!("{} is not pinned{}", o.template, o.host.as_deref().map(|h| format!(" for {h}")).unwrap_or_default());
    }
    store.flush()?;
    println!("unpinned {}", o.template);
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
